import NIOCore
import Testing

@testable import StableIDAPI

/// `POST /v1/resolve/token`'s body read in place: exactly `{"token": "…"}` is read by the
/// scanner; every other body goes to the general decoder (nil here), which accepts or refuses it.
@Suite("Token lookup bodies", .timeLimit(.minutes(1)))
struct TokenBodyTests {
    static func token(_ body: String) -> String? {
        TokenResolveController.token(in: ByteBuffer(string: body))
    }

    @Test("the one-member body in any spacing gives its token, escapes decoded; anything else is left to the decoder")
    func bodies() {
        #expect(Self.token(#"{"token":"a.b.c"}"#) == "a.b.c")
        #expect(Self.token(" {\n \"token\" : \"a.b.c\" \t}\n") == "a.b.c")
        #expect(Self.token(#"{"token":"a.b\u002ec"}"#) == "a.b.c")
        for other in [
            #"{"token":"a.b.c","extra":1}"#, #"{"extra":1,"token":"a.b.c"}"#, #"{"token":1}"#, #"{"token":null}"#, #"{"token":"a.b.c"}x"#,
            #"{"token":"a.b.c""#, #"["a.b.c"]"#, "", #"{"Token":"a.b.c"}"#, #"{"token":"a.b.c"}{"#,
        ] {
            #expect(Self.token(other) == nil, "\(other)")
        }
    }
}

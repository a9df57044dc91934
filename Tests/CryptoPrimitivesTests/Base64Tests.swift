import CryptoPrimitives
import Foundation
import Testing

@Suite("Standard base64", .timeLimit(.minutes(1)))
struct Base64Tests {
    @Test("RFC 4648 §10 vectors, both ways")
    func vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }

    @Test("agrees with Foundation on random bytes of every length up to 100")
    func agreesWithFoundation() {
        for length in 0...100 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            let expected = Data(bytes).base64EncodedString()
            #expect(Base64.encode(bytes) == expected)
            #expect(Base64.decode(expected) == bytes)
        }
    }

    @Test("decodes only what encode writes: padding, alphabet, no white space, zero trailing bits")
    func strict() {
        for text in ["Zg", "Zg=", "Zg===", "Z===", "Zm9v\n", "Zm 9v", "Zm9v-_==", "Zh==", "Zm9=", "=Zg=", "Zg==Zg=="] {
            #expect(Base64.decode(text) == nil, "\(text)")
        }
    }
}

import Testing

@testable import IdentityMap

@Suite("Email addresses", .timeLimit(.minutes(2)))
struct EmailAddressTests {
    /// Both paths on one input: the ASCII fast path must answer exactly what Foundation's NFKC
    /// path answers, or say the input is not ASCII.
    static func agree(_ text: String) -> Bool {
        var copy = text
        switch copy.withUTF8(EmailAddress.normalizeASCII) {
        case .normalized(let fast): return fast == EmailAddress.normalizeUnicode(text)
        case .invalid: return EmailAddress.normalizeUnicode(text) == nil
        case .notASCII: return text.utf8.contains { $0 >= 0x80 }
        }
    }

    @Test("the ASCII fast path agrees with the Unicode path: trimming, case, control bytes, where the @ is")
    func asciiAgrees() {
        let cases = [
            "alice@example.com", "  Alice@Example.COM ", "\tBOB@EXAMPLE.ORG\r\n", "a@b", "@b", "a@", "a@@b", "a@b@c", "",
            "   ", "a b@example.com", "a\u{0}@x.y", "a\u{7F}@x.y", "a\u{1C}@x.y", "\u{1C}a@x.y", "\u{0B}a@x.y\u{0C}",
            "first.last+TAG@Gmail.com", String(repeating: "a", count: 315) + "@b.co", String(repeating: "a", count: 316) + "@b.co",
            "ünï@example.com",
        ]
        for text in cases { #expect(Self.agree(text), "\(text.debugDescription)") }
        // Random printable and unprintable ASCII, with an @ now and then.
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array(0x00...0x7F) + Array(repeating: UInt8(ascii: "@"), count: 16)
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(Self.agree(text), "\(text.debugDescription)")
        }
    }
}

import Support
import Testing

@Suite("JSONString", .timeLimit(.minutes(2)))
struct JSONStringTests {
    /// `text` quoted, after checking that the three ways of writing it agree byte for byte and
    /// that the direct write stays within the room its callers reserve.
    static func written(_ text: String) -> String {
        let quoted = JSONString.quoted(text)
        let utf8 = Array(text.utf8)
        var appended: [UInt8] = [UInt8(ascii: "x")]
        utf8.withUnsafeBufferPointer { JSONString.append(utf8: $0, to: &appended) }
        let room = 2 + JSONString.maxEscapedLength * utf8.count
        let direct = [UInt8](unsafeUninitializedCapacity: room) { out, initialized in
            let base = out.baseAddress!
            initialized = utf8.withUnsafeBytes { JSONString.write(utf8: $0, into: base) }
        }
        #expect(String(decoding: appended.dropFirst(), as: UTF8.self) == quoted)
        #expect(String(decoding: direct, as: UTF8.self) == quoted)
        #expect(direct.count <= room)
        return quoted
    }

    @Test("text that needs no escape is copied as is: slashes, DEL, non-ASCII")
    func verbatim() {
        #expect(Self.written("") == #""""#)
        #expect(Self.written("plain / é ✓ 👍 \u{7F}") == "\"plain / é ✓ 👍 \u{7F}\"")
    }

    @Test("quote, backslash and the named controls get their short escapes")
    func shortEscapes() {
        #expect(Self.written("\"\\\n\r\t\u{08}\u{0C}") == #""\"\\\n\r\t\b\f""#)
        #expect(Self.written("a\"b\\c") == #""a\"b\\c""#)
    }

    @Test("the other controls are \\u00XX with lower-case digits")
    func unicodeEscapes() {
        #expect(Self.written("\u{00}") == #""\u0000""#)
        #expect(Self.written("x\u{1B}y") == #""x\u001by""#)
        #expect(Self.written("\u{1F}") == #""\u001f""#)
        let named: Set<UInt8> = [0x08, 0x09, 0x0A, 0x0C, 0x0D]
        for byte in UInt8(0)..<0x20 where !named.contains(byte) {
            let text = String(Character(Unicode.Scalar(byte)))
            #expect(Self.written(text) == "\"\\u00" + Hex.encode([byte]) + "\"", "\(byte)")
        }
        // The longest output: every byte escaped at 6 bytes, within the room callers reserve.
        #expect(Self.written(String(repeating: "\u{01}", count: 50)).utf8.count == 2 + 6 * 50)
    }

    @Test("needsEscape names exactly the controls, the quote and the backslash")
    func needsEscape() {
        for byte in UInt8.min...UInt8.max {
            let expected = byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
            #expect(JSONString.needsEscape(byte) == expected, "\(byte)")
        }
    }

    @Test("the trigger answers' spelling, unchanged")
    func triggerText() {
        #expect(
            Self.written("quote \" backslash \\ newline \n tab \t bell \u{07} slash / é")
                == #""quote \" backslash \\ newline \n tab \t bell \u0007 slash / é""#)
    }
}

import Foundation
import Support
import Testing

@Suite("Hex", .timeLimit(.minutes(2)))
struct HexTests {
    @Test("lower-case, two digits per byte, the same from contiguous and lazy sequences")
    func encode() {
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
        let all = (0...255).map { UInt8($0) }
        let text = Hex.encode(all)
        #expect(text.count == 512 && text.hasPrefix("000102") && text.hasSuffix("fdfeff"))
        #expect(Hex.encode(all.lazy.map { $0 }) == text)  // no contiguous storage: the slow path
        #expect(Hex.encode(all[16..<18]) == "1011")
    }

    @Test("decoding takes either case and refuses odd lengths and non-digits")
    func decode() {
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("000FA5ff") == [0x00, 0x0f, 0xa5, 0xff])
        #expect(Hex.decode("\\x0a".dropFirst(2)) == [0x0a])
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(all)) == all)
        #expect(Hex.decode(Hex.encode(all).uppercased()) == all)
        for bad in ["0", "abc", "0g", "g0", " 0", "0x", "é0"] {
            #expect(Hex.decode(bad) == nil, "\(bad)")
        }
    }

    @Test("appendEncoded writes the same digits, upper-case on request (percent-encoding)")
    func appendEncoded() {
        var out: [UInt8] = Array("%".utf8)
        Hex.appendEncoded(0x2f, to: &out, uppercase: true)
        Hex.appendEncoded(0xab, to: &out, uppercase: true)
        Hex.appendEncoded(0xab, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "%2FABab")
        for byte in UInt8.min...UInt8.max {
            var digits: [UInt8] = []
            Hex.appendEncoded(byte, to: &digits)
            #expect(String(decoding: digits, as: UTF8.self) == Hex.encode([byte]))
        }
    }

    @Test("write fills reserved room with the same digits; writeUUID spells a UUID lower-case")
    func writeIntoRoom() {
        var room = [UInt8](repeating: 0, count: 4)
        room.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            Hex.write(0xa5, into: base)
            Hex.write(0x0f, into: base + 2, uppercase: true)
        }
        #expect(String(decoding: room, as: UTF8.self) == "a50F")
        let fixed = UUID(uuidString: "01234567-89AB-CDEF-0011-2233445566FF")!
        for uuid in [fixed] + (0..<100).map({ _ in UUID() }) {
            var text = [UInt8](repeating: 0, count: Hex.uuidTextLength)
            text.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                withUnsafeBytes(of: uuid.uuid) { Hex.writeUUID($0, into: base) }
            }
            #expect(String(decoding: text, as: UTF8.self) == uuid.uuidString.lowercased())
        }
    }
}

import Foundation
import Support
import Testing

@Suite("RFC 3339", .timeLimit(.minutes(2)))
struct RFC3339Tests {
    @Test("format: UTC, six fractional digits, Z")
    func format() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_795_723_591.5)) == "2026-11-26T20:06:31.500000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_795_723_591.000_000_4)) == "2026-11-26T20:06:31.000000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_795_723_591.999_999_6)) == "2026-11-26T20:06:32.000000Z")
    }

    @Test("parse: the spellings clients and PostgreSQL use")
    func parse() {
        let instant = 1_795_723_591.5
        for text in [
            "2026-11-26T20:06:31.5Z", "2026-11-26T20:06:31.500000Z", "2026-11-26t20:06:31.500z",
            "2026-11-26 20:06:31.5+00", "2026-11-26T22:06:31.5+02:00", "2026-11-26T22:06:31.5+0200",
            "2026-11-26T22:06:31.5+02", "2026-11-26T14:36:31.5-05:30", "2026-11-26T20:06:31.500000000Z",
            "2026-11-26T20:06:31.5",
        ] {
            #expect(RFC3339.parse(text)?.timeIntervalSince1970 == instant, "\(text)")
        }
        #expect(RFC3339.parse("2026-11-26T20:06:31Z")?.timeIntervalSince1970 == 1_795_723_591)
        #expect(RFC3339.parse("1969-12-31T23:59:59Z")?.timeIntervalSince1970 == -1)
        #expect(RFC3339.parse("2026-11-26")?.timeIntervalSince1970 == 1_795_651_200)
        #expect(RFC3339.parse("2026-11-27T10:00:00Z") == RFC3339.parse(Substring("x2026-11-27T10:00:00Z").dropFirst()))
        // A leap second is the first second of the next minute.
        #expect(RFC3339.parse("2016-12-31T23:59:60Z") == RFC3339.parse("2017-01-01T00:00:00Z"))
    }

    @Test("parse: fractions beyond microseconds round to the nearest microsecond")
    func rounding() throws {
        let up = try #require(RFC3339.parse("2026-11-27T09:38:53.1234565Z"))
        #expect(RFC3339.format(up) == "2026-11-27T09:38:53.123457Z")
        let down = try #require(RFC3339.parse("2026-11-27T09:38:53.123456499Z"))
        #expect(RFC3339.format(down) == "2026-11-27T09:38:53.123456Z")
        let carry = try #require(RFC3339.parse("2026-12-31T23:59:59.9999999Z"))
        #expect(RFC3339.format(carry) == "2027-01-01T00:00:00.000000Z")
    }

    @Test(
        "parse: nil for what is not an RFC 3339 time",
        arguments: [
            "", "yesterday", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29",
            "2026-04-31", "2026-11-26T24:00:00Z", "2026-11-26T20:60:00Z", "2026-11-26T20:06:61Z", "2026-11-26T20:06:31.Z",
            "2026-11-26T20:06Z", "2026-11-26T20:06:31+2", "2026-11-26T20:06:31+02:", "2026-11-26T20:06:31+02:0",
            "2026-11-26T20:06:31+24:00", "2026-11-26T20:06:31+02:60", "2026-11-26T20:06:31ZZ", "2026-11-26T20:06:31 Z",
            "26-11-26T20:06:31Z", "2026-1-26T20:06:31Z", "2026-11-26X20:06:31Z", " 2026-11-26T20:06:31Z",
        ])
    func rejects(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test("leap years follow the Gregorian rules")
    func leapYears() {
        #expect(RFC3339.parse("2024-02-29") != nil)
        #expect(RFC3339.parse("2000-02-29") != nil)
        #expect(RFC3339.parse("1900-02-29") == nil)
        #expect(RFC3339.parse("2023-02-29") == nil)
    }

    @Test("every day from 1900 to 2100 agrees with ISO8601DateFormatter")
    func calendar() {
        let reference = ISO8601DateFormatter()  // whole seconds, UTC, 'Z'
        var seconds: Int64 = -2_208_988_800 + 45_296  // 1900-01-01T12:34:56Z
        while seconds < 4_133_980_800 {  // 2101-01-01
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let ours = RFC3339.format(date)
            #expect(String(ours.prefix(19)) + "Z" == reference.string(from: date))
            #expect(ours.hasSuffix(".000000Z"))
            #expect(RFC3339.parse(ours) == date)
            seconds += 86_400 * 3 + 1_237  // every third day, drifting through the hours
        }
    }

    @Test("text → Date → text is exact to the microsecond")
    func microsecondRoundTrip() throws {
        var generator = SplitMix64(seed: 0x5374_6162_6c65)
        for _ in 0..<20_000 {
            let year = 1900 + Int(generator.next() % 240)
            let month = 1 + Int(generator.next() % 12)
            let day = 1 + Int(generator.next() % 28)
            let hour = Int(generator.next() % 24), minute = Int(generator.next() % 60), second = Int(generator.next() % 60)
            let micros = Int(generator.next() % 1_000_000)
            let text =
                "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(micros, 6))Z"
            let date = try #require(RFC3339.parse(text), "\(text)")
            #expect(RFC3339.format(date) == text)
        }
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// A seeded generator, so a failure names a case that can be run again.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RFC3339Tests {
    @Test("writing into a raw buffer gives format's text, in and out of four-digit years, at the clamp and for non-finite times")
    func writeMatchesFormat() {
        let dates = [
            Date(timeIntervalSince1970: 1_795_723_591.5), Date(timeIntervalSince1970: -62_167_219_200 - 86_400),
            Date(timeIntervalSince1970: 253_402_300_800), Date(timeIntervalSinceReferenceDate: 1e12),
            Date(timeIntervalSinceReferenceDate: -1e12), Date(timeIntervalSinceReferenceDate: .infinity),
            Date(timeIntervalSinceReferenceDate: -.infinity), Date(timeIntervalSinceReferenceDate: .nan), Date.distantFuture,
            Date.distantPast,
        ]
        for date in dates {
            let written = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: RFC3339.maxLength) { out in
                String(decoding: UnsafeBufferPointer(rebasing: out[..<RFC3339.write(date, into: out.baseAddress!)]), as: UTF8.self)
            }
            #expect(written == RFC3339.format(date), "\(date.timeIntervalSinceReferenceDate)")
            #expect(written.utf8.count <= 29)
        }
    }
}

import Foundation
import Testing

@testable import UserMigration

/// The in-memory unmigrated set of a CSV export from a file: sub keys, lookups, slices.
@Suite("CSV decision table", .timeLimit(.minutes(1)))
struct CSVDecisionTableTests {
    @Test("slices cover every first byte exactly once, for any count, and a sub finds its one slice")
    func slices() {
        for count in 1...256 {
            let slices = CSVDecisionSlice.all(count)
            #expect(slices.count == count)
            var covered: [UInt8] = []
            for slice in slices { covered += Array(slice.firstBytes) }
            #expect(covered == Array(0...255), "\(count) slices")
        }
        #expect(CSVDecisionSlice.all(0) == CSVDecisionSlice.all(1) && CSVDecisionSlice.all(1000).count == 256)
    }

    @Test("sub keys: UUID text in either case, ordered as PostgreSQL orders uuid; anything else has no key")
    func keys() throws {
        let low = try #require(CSVDecisionTable.SubKey(text: "00000000-0000-4000-8000-00000000000a"))
        let upper = try #require(CSVDecisionTable.SubKey(text: "00000000-0000-4000-8000-00000000000A"))
        let high = try #require(CSVDecisionTable.SubKey(text: "ff000000-0000-4000-8000-000000000000"))
        #expect(low == upper && low < high && high.firstByte == 0xff && low.firstByte == 0)
        for bad in [
            "", "not-a-uuid", "00000000-0000-4000-8000-00000000000", "00000000_0000-4000-8000-000000000000",
            "g0000000-0000-4000-8000-000000000000",
        ] {
            #expect(CSVDecisionTable.SubKey(text: bad) == nil, "\(bad)")
        }
    }

    @Test("a table answers each packed sub's decision, once per sub, and nothing for another sub")
    func lookups() throws {
        let subs = (0..<50).map { _ in UUID() }
        let persons = subs.map { _ in UUID() }
        var packed: [UInt8] = []
        for (index, sub) in subs.enumerated().reversed() {  // any order
            withUnsafeBytes(of: sub.uuid) { packed += $0 }
            withUnsafeBytes(of: persons[index].uuid) { packed += $0 }
            packed.append(UInt8(index % 8))
        }
        // A repeated sub keeps one decision.
        packed += packed[0..<CSVDecisionTable.entrySize]
        var table = CSVDecisionTable(expected: 10)
        try packed.withUnsafeBytes { try table.append(packed: $0) }
        table.seal()
        #expect(table.count == subs.count)
        for (index, sub) in subs.enumerated() {
            let decision = try #require(table.decision(forSub: sub.uuidString))
            #expect(decision.person == persons[index])
            #expect(decision.inTarget == (index % 8 & 1 != 0) && decision.sourceActive == (index % 8 & 2 != 0))
            #expect(decision.chosen == (index % 8 & 4 != 0))
            #expect(table.decision(forSub: sub.uuidString.lowercased())?.person == persons[index])
        }
        #expect(table.decision(forSub: UUID().uuidString) == nil && table.decision(forSub: nil) == nil)
        var torn = CSVDecisionTable()
        #expect(throws: CSVDecisionTable.Malformed.self) { try Array(packed.dropLast()).withUnsafeBytes { try torn.append(packed: $0) } }
    }
}

import Testing

@testable import LookupCache

@Suite("Change cursor: ids, gaps and their end", .timeLimit(.minutes(2)))
struct ChangeCursorTests {
    let t0 = ContinuousClock.now

    func ranges(_ cursor: ChangeCursor) -> [ClosedRange<Int64>] {
        cursor.gaps.map { $0.lower...$0.upper }
    }

    @Test("ids in order move the cursor and leave no gap")
    func inOrder() {
        var cursor = ChangeCursor(after: 0)
        cursor.observe([1, 2, 3], at: t0)
        #expect(cursor.high == 3)
        #expect(cursor.gaps.isEmpty)
        cursor.observe([], at: t0)
        #expect(cursor.high == 3)
    }

    @Test("a skipped id is a gap; the poll after asks for it and for what follows")
    func gapOpens() {
        var cursor = ChangeCursor(after: 10)
        cursor.observe([12, 15], at: t0)
        #expect(cursor.high == 15)
        #expect(ranges(cursor) == [11...11, 13...14])
        #expect(cursor.gapLowers == [11, 13])
        #expect(cursor.gapUppers == [11, 14])
        #expect(cursor.missingIDs == 3)
    }

    @Test("late ids fill their gap: at an end, in the middle (splitting it), or all of it")
    func gapsFill() {
        var cursor = ChangeCursor(after: 0)
        cursor.observe([10], at: t0)
        #expect(ranges(cursor) == [1...9])
        cursor.observe([5], at: t0 + .seconds(1))
        #expect(ranges(cursor) == [1...4, 6...9])
        #expect(cursor.gaps.allSatisfy { $0.noticed == t0 }, "a split keeps when the ids first went missing")
        cursor.observe([1, 4, 6, 7, 8, 9, 11], at: t0)
        #expect(ranges(cursor) == [2...3])
        #expect(cursor.high == 11)
        cursor.observe([2, 3], at: t0)
        #expect(cursor.gaps.isEmpty)
    }

    @Test("repeats and ids read before change nothing")
    func repeats() {
        var cursor = ChangeCursor(after: 0)
        cursor.observe([1, 3, 3], at: t0)
        let before = cursor
        cursor.observe([1, 3], at: t0)
        #expect(cursor == before)
        #expect(ranges(cursor) == [2...2])
    }

    @Test("a large late transaction fills its gap chunk by chunk, as polls with a row limit return it")
    func bigFill() {
        var cursor = ChangeCursor(after: 0)
        cursor.observe([100_001], at: t0)
        #expect(ranges(cursor) == [1...100_000])
        for chunk in stride(from: Int64(1), through: 100_000, by: 5_000) {
            cursor.observe(Array(chunk..<chunk + 5_000), at: t0)
        }
        #expect(cursor.gaps.isEmpty)
        #expect(cursor.high == 100_001)
    }

    @Test("a gap is given up only once it has been missing for the whole bound")
    func abandon() {
        var cursor = ChangeCursor(after: 0)
        cursor.observe([3], at: t0)
        cursor.observe([6], at: t0 + .seconds(5))
        #expect(cursor.abandonGaps(olderThan: .seconds(10), now: t0 + .seconds(9)) == 0)
        #expect(cursor.abandonGaps(olderThan: .seconds(10), now: t0 + .seconds(10)) == 2)
        #expect(ranges(cursor) == [4...5])
        #expect(cursor.abandonGaps(olderThan: .seconds(10), now: t0 + .seconds(15)) == 2)
        #expect(cursor.gaps.isEmpty)
        #expect(cursor.high == 6)
    }

    @Test("pruning past the cursor, or a log that ends before it, means changes may have been missed")
    func resumeChecks() {
        var cursor = ChangeCursor(after: 100)
        cursor.observe([102], at: t0)
        #expect(!cursor.missedPrunedChanges(prunedThrough: 102))
        #expect(!cursor.missedPrunedChanges(prunedThrough: 50))
        #expect(cursor.missedPrunedChanges(prunedThrough: 103))
        #expect(!cursor.isAhead(ofLogEnd: 102))
        #expect(!cursor.isAhead(ofLogEnd: 500))
        #expect(cursor.isAhead(ofLogEnd: 101))
    }
}

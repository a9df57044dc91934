/// How far a follower has read `identity_changes`: every id up to ``high`` has been applied,
/// except the ids in ``gaps``, which it has not seen yet.
///
/// Why gaps exist: ids come from a sequence, and a transaction can take an id and become
/// visible after one that took a later id. `sql/0007` takes ids at COMMIT, so such a hole is a
/// transaction inside its commit — between its publishing trigger and the end of its WAL flush
/// or synchronous-standby wait — or one that failed right there (its id never appears).
///
/// How they are handled: a poll asks for `id > high` and for every open gap (each an index
/// range scan), so a late row is read as soon as it is visible, and the rows read already are not
/// read again. A gap is given up after ``LookupCache/Configuration/maxGapAge`` (10 s by default),
/// counted from when this follower first saw it, and only after a poll that examined every
/// gap (one not cut short by its row limit). Every change an abandoned gap could still bring
/// would have to sit in its commit for that long: a stalled WAL flush or standby, in which case
/// every other commit stalls too. Time is the only proof available: a snapshot's `xmax` is one
/// past the last *completed* transaction, not the last *started* one, so "every transaction
/// older than the gap has ended" cannot be read off a snapshot, and a hot standby cannot start a
/// transaction of its own to get a fresh id.
///
/// A pure value: the follower feeds it the ids of each poll; tests feed it by hand.
struct ChangeCursor: Sendable, Equatable {
    struct Gap: Sendable, Equatable {
        var lower: Int64
        var upper: Int64
        /// When this follower first saw the ids missing.
        var noticed: ContinuousClock.Instant

        var count: Int64 { upper - lower + 1 }
    }

    private(set) var high: Int64
    /// Ascending and disjoint, all below `high`.
    private(set) var gaps: [Gap] = []

    /// Starts after `position`: every change with a larger id will be read.
    init(after position: Int64) {
        high = position
    }

    /// After a warm-up that read a snapshot seeing every change through `high` except `missing`:
    /// those ids are gaps from `now`, everything else through `high` is already reflected.
    init(after position: Int64, visibleThrough high: Int64, missing: [ClosedRange<Int64>], at now: ContinuousClock.Instant) {
        self.high = max(position, high)
        self.gaps = missing.filter { $0.lowerBound > position && $0.upperBound < self.high }
            .map { Gap(lower: $0.lowerBound, upper: $0.upperBound, noticed: now) }
    }

    var gapLowers: [Int64] { gaps.map(\.lower) }
    var gapUppers: [Int64] { gaps.map(\.upper) }
    var missingIDs: Int64 { gaps.reduce(0) { $0 + $1.count } }

    /// Pruning removed changes past the ones this cursor has read: some may never have been
    /// seen, so the read model must be rebuilt. (Gap rows are younger than any retention.)
    func missedPrunedChanges(prunedThrough: Int64) -> Bool {
        prunedThrough > high
    }

    /// The server's log ends before this cursor: it is another server than the one the cursor
    /// was read from (a failover that lost commits rewinds the sequence), so ids can repeat.
    func isAhead(ofLogEnd logEnd: Int64) -> Bool {
        logEnd < high
    }

    /// Takes the ids a poll returned, ascending (as `ORDER BY id` gives them). Ids above `high`
    /// move it and open a gap for whatever they skipped; ids below fill gaps; repeats are ignored.
    mutating func observe(_ ids: [Int64], at now: ContinuousClock.Instant) {
        var gapIndex = 0
        var previous: Int64?
        for id in ids {
            defer { previous = id }
            if id == previous { continue }
            if id > high {
                if id > high + 1 {
                    gaps.append(Gap(lower: high + 1, upper: id - 1, noticed: now))
                }
                high = id
                continue
            }
            while gapIndex < gaps.count, gaps[gapIndex].upper < id { gapIndex += 1 }
            guard gapIndex < gaps.count, gaps[gapIndex].lower <= id else { continue }
            let gap = gaps[gapIndex]
            if gap.lower == gap.upper {
                gaps.remove(at: gapIndex)
            } else if id == gap.lower {
                gaps[gapIndex].lower += 1
            } else if id == gap.upper {
                gaps[gapIndex].upper -= 1
            } else {
                gaps[gapIndex].upper = id - 1
                gaps.insert(Gap(lower: id + 1, upper: gap.upper, noticed: gap.noticed), at: gapIndex + 1)
                gapIndex += 1
            }
        }
    }

    /// Gives up the gaps seen at least `maxAge` ago; returns how many ids were abandoned. Call
    /// only after a poll that returned fewer rows than its limit (it examined every gap).
    @discardableResult
    mutating func abandonGaps(olderThan maxAge: Duration, now: ContinuousClock.Instant) -> Int64 {
        var abandoned: Int64 = 0
        gaps.removeAll { gap in
            guard now - gap.noticed >= maxAge else { return false }
            abandoned += gap.count
            return true
        }
        return abandoned
    }
}

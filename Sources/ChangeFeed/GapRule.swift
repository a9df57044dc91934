public import Foundation
import Support

/// Which rows after a cursor a reader may hand out, so that the feed's order is the commit order
/// and nothing is skipped.
///
/// Why holes exist: positions come from a sequence when a transaction's deferred trigger runs at
/// COMMIT (sql/0022). Two transactions committing at once can take positions in one order and
/// become visible in the other, so a reader may see position 7 while 6 is still invisible. Since
/// positions are taken at COMMIT, such a hole is a transaction between that trigger and the end of
/// its commit (a WAL flush, a synchronous standby's answer) — milliseconds — or one that failed
/// right there, whose position never appears.
///
/// The rule: hand out rows in position order up to the first hole; a hole blocks until it fills
/// or is ``maxGapAge`` old, and is then treated as empty. Its age is measured from the
/// publication of the row just after it (that row took its position after the hole's did, so the
/// missing transaction was already committing then), on the database's clock — the primary's
/// `clock_timestamp()`, or on a hot standby the commit time of the last transaction it replayed,
/// so a standby whose replay pauses never gives up a hole whose row is still on its way.
///
/// Unlike the lookup cache's ``ChangeCursor`` it keeps no state: a consumer's cursor is one
/// position, so every reader applies the same rule to the same rows and clock, and a hole is
/// given up by all of them alike. A change is skipped only if its commit took longer than
/// `maxGapAge` between taking its position and becoming visible, while a later one was already
/// visible: a WAL flush or a standby stalled that long stalls every other commit too.
///
/// A pure value: the store feeds it the rows of a read; tests feed it by hand.
public struct GapRule: Sendable, Equatable {
    /// How long a hole may block before it is treated as empty.
    public var maxGapAge: Duration

    /// 10 s, as the lookup cache's: far above a commit's few milliseconds, and short enough that
    /// a commit that failed after taking its position holds the feed up only briefly.
    public static let defaultMaxGapAge: Duration = .seconds(10)

    public init(maxGapAge: Duration = GapRule.defaultMaxGapAge) {
        self.maxGapAge = maxGapAge
    }

    public struct Row: Sendable, Equatable {
        public var position: Int64
        public var publishedAt: Date

        public init(position: Int64, publishedAt: Date) {
            self.position = position
            self.publishedAt = publishedAt
        }
    }

    public struct Outcome: Sendable, Equatable {
        /// How many rows, from the first, may be handed out.
        public var accepted: Int
        /// The cursor after them (the one given when none is).
        public var position: Int64
        /// Positions treated as empty on the way.
        public var abandoned: Int64
        /// When the hole that stopped the rows will be given up (the database's clock); nil when
        /// no hole stopped them.
        public var blockedUntil: Date?
    }

    /// `rows`: strictly ascending by position, all after `position`, as one read returned them; `clock`:
    /// the database's time at that read (nil when it could not say: every hole then blocks).
    public func settle(after position: Int64, rows: [Row], clock: Date?) -> Outcome {
        var outcome = Outcome(accepted: 0, position: position, abandoned: 0, blockedUntil: nil)
        for row in rows {
            if row.position > outcome.position + 1 {
                let expires = row.publishedAt.addingTimeInterval(maxGapAge.seconds)
                guard let clock, clock >= expires else {
                    outcome.blockedUntil = expires
                    return outcome
                }
                outcome.abandoned += row.position - outcome.position - 1
            }
            outcome.accepted += 1
            outcome.position = row.position
        }
        return outcome
    }
}

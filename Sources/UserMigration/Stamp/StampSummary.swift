public import Foundation
public import IdentityMap

/// How many users a stamp run saw, and what it did with them. At every durable point
/// `seen = changed + cleared + skipped + unmapped + inactive + gone + failed` (`wouldChange` and
/// `wouldClear` instead of `changed` and `cleared` in a dry run); `stamp_runs` checks the same.
public struct StampCounts: Sendable, Equatable {
    public var seen = 0
    /// Written in Cognito and recorded (`user_stamped`).
    public var changed = 0
    /// The attribute removed in Cognito and recorded (`stable_id_attribute_cleared`): a value on a
    /// user with no active mapping, or not its person's on an inactive one (``StampDecision``).
    public var cleared = 0
    /// The attribute already held the person's ID.
    public var skipped = 0
    /// In the pool, not in the map (or unlinked there), with no value to remove (or one a campaign's
    /// triggers link by): left alone.
    public var unmapped = 0
    /// Disabled in Cognito or in the map, or a deleted person, with no value to remove (or its
    /// person's own): left alone.
    public var inactive = 0
    /// Deleted from the pool between ListUsers and the write (or the removal).
    public var gone = 0
    /// Cognito refused the write or removal for this user (`InvalidParameterException`, a Lambda's refusal).
    public var failed = 0
    /// `--dry-run`: users a real run would write.
    public var wouldChange = 0
    /// `--dry-run`: users whose attribute a real run would remove.
    public var wouldClear = 0

    public init(
        seen: Int = 0, changed: Int = 0, cleared: Int = 0, skipped: Int = 0, unmapped: Int = 0, inactive: Int = 0, gone: Int = 0,
        failed: Int = 0, wouldChange: Int = 0, wouldClear: Int = 0
    ) {
        self.seen = seen
        self.changed = changed
        self.cleared = cleared
        self.skipped = skipped
        self.unmapped = unmapped
        self.inactive = inactive
        self.gone = gone
        self.failed = failed
        self.wouldChange = wouldChange
        self.wouldClear = wouldClear
    }

    public mutating func add(_ other: StampCounts) {
        seen += other.seen
        changed += other.changed
        cleared += other.cleared
        skipped += other.skipped
        unmapped += other.unmapped
        inactive += other.inactive
        gone += other.gone
        failed += other.failed
        wouldChange += other.wouldChange
        wouldClear += other.wouldClear
    }

    /// The counts as the summary event and `--format json` name them.
    public var json: [String: JSONValue] {
        [
            "seen": .number(Double(seen)), "changed": .number(Double(changed)), "cleared": .number(Double(cleared)),
            "skipped": .number(Double(skipped)), "unmapped": .number(Double(unmapped)), "inactive": .number(Double(inactive)),
            "gone": .number(Double(gone)), "failed": .number(Double(failed)),
        ]
    }
}

/// Where a stamp run is (`stamp_runs.state`).
public enum StampRunState: String, Sendable, CaseIterable {
    /// Working, or killed while working (a run found `running` under the pool's lock is a dead one).
    case running
    /// Ended at its `--limit`; `--resume` continues it.
    case stopped
    /// Ended by a failure (Cognito, PostgreSQL); `--resume` continues it.
    case failed
    case completed
    /// Left unfinished and replaced by a run started without `--resume`.
    case abandoned
}

/// What one `stableid stamp` invocation did: the CLI prints it as text or JSON. Users are named by
/// their stable ID only — or, for a user the map does not hold, by its sub.
public struct StampSummary: Sendable, Equatable {
    /// A user Cognito refused to stamp, or to remove the attribute from.
    public struct Failure: Sendable, Equatable {
        /// The person (the stable ID written, or the identity's person for a removal); nil for a
        /// user the map does not hold.
        public var person: UUID?
        /// The Cognito user's sub, for a user the map does not hold (nothing else names it).
        public var sub: String? = nil
        /// An AWS error type.
        public var code: String
    }

    /// At most this many failures are listed; the count is always whole.
    public static let listLimit = 1_000

    /// Nil for a dry run, which records nothing.
    public var run: UUID?
    public var pool: PoolID
    public var attribute: String
    public var dryRun: Bool
    /// This invocation continued an interrupted run (`--resume`); the counts are the whole run's.
    public var resumed = false
    public var state: StampRunState = .running
    public var counts = StampCounts()
    /// ListUsers pages fully handled, over the whole run.
    public var pages = 0
    public var limitReached = false
    public var failures: [Failure] = []
    public var warnings: [String] = []

    public init(run: UUID?, pool: PoolID, attribute: String, dryRun: Bool) {
        self.run = run
        self.pool = pool
        self.attribute = attribute
        self.dryRun = dryRun
    }

    mutating func listFailure(_ failure: Failure) {
        if failures.count < Self.listLimit { failures.append(failure) }
    }

    /// `--format json`.
    public var json: [String: JSONValue] {
        var json = counts.json
        json["would_change"] = .number(Double(counts.wouldChange))
        json["would_clear"] = .number(Double(counts.wouldClear))
        json["pool"] = .string(pool.rawValue)
        json["attribute"] = .string(attribute)
        json["dry_run"] = .bool(dryRun)
        json["resumed"] = .bool(resumed)
        json["state"] = .string(state.rawValue)
        json["pages"] = .number(Double(pages))
        json["limit_reached"] = .bool(limitReached)
        json["run"] = run.map(JSONValue.init) ?? .null
        json["failures"] = .array(
            failures.map { failure in
                var item: [String: JSONValue] = ["user_id": failure.person.map(JSONValue.init) ?? .null, "code": .string(failure.code)]
                if let sub = failure.sub { item["sub"] = .string(sub) }
                return JSONValue.object(item)
            })
        json["warnings"] = .array(warnings.map(JSONValue.string))
        return json
    }
}

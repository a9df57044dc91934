public import Foundation
public import IdentityMap

// The events of `stableid stamp` (docs/AUDIT.md, Stamping). No personal data: the value written is
// the user's own stable ID, a value removed is copied only when it is a stable ID, and the event's
// user, pool and sub columns say whose attribute it is.

/// One user's stable-ID attribute written (after Cognito took the write). The event's `user_id` is
/// the person (the survivor), `pool_id` and `sub` the Cognito user.
public struct UserStampedDetails: EventDetails {
    public static let kind = EventKind.userStamped
    /// The `stamp_runs` row of the run that wrote it.
    public var run: UUID
    public var attribute: String
    /// The attribute held a value before (an older ID, one merged since, any text an administrator put there).
    public var replaced: Bool
    /// That value when it was a UUID (a stable ID, which is no personal data); other text is never copied.
    public var previous: UUID?

    public init(run: UUID, attribute: String, previous text: String?) {
        self.run = run
        self.attribute = attribute
        self.replaced = !(text ?? "").isEmpty
        self.previous = text.flatMap { UUID(uuidString: $0) }
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = ["run": JSONValue(run), "attribute": .string(attribute), "replaced": .bool(replaced)]
        if let previous { json["previous"] = JSONValue(previous) }
        return json
    }
}

/// One user's stable-ID attribute removed (after Cognito took the removal): the user has no active
/// mapping, or is inactive and the value was not its person's (``StampClearReason``). The event's
/// `pool_id` and `sub` are the Cognito user; its `user_id` the identity's person (the survivor)
/// when the map holds the sub, none when it does not.
public struct StableIDAttributeClearedDetails: EventDetails {
    public static let kind = EventKind.stableIDAttributeCleared
    /// The `stamp_runs` row of the run that removed it.
    public var run: UUID
    public var attribute: String
    public var reason: StampClearReason
    /// The value removed when it was a UUID (a stable ID, which is no personal data); other text is
    /// never copied.
    public var previous: UUID?

    public init(run: UUID, attribute: String, reason: StampClearReason, previous text: String?) {
        self.run = run
        self.attribute = attribute
        self.reason = reason
        self.previous = text.flatMap { UUID(uuidString: $0) }
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = ["run": JSONValue(run), "attribute": .string(attribute), "reason": .string(reason.rawValue)]
        if let previous { json["previous"] = JSONValue(previous) }
        return json
    }
}

/// A stamp run (one invocation of it) ended: its state and the run's durable counts so far —
/// a resumed run's counts include what its earlier invocations did.
public struct StampRunFinishedDetails: EventDetails {
    public static let kind = EventKind.stampRunFinished
    public var run: UUID
    public var attribute: String
    /// `completed`, `stopped` (at its `--limit`) or `failed`.
    public var state: StampRunState
    public var resumed: Bool
    public var pages: Int
    public var counts: StampCounts

    public init(run: UUID, attribute: String, state: StampRunState, resumed: Bool, pages: Int, counts: StampCounts) {
        self.run = run
        self.attribute = attribute
        self.state = state
        self.resumed = resumed
        self.pages = pages
        self.counts = counts
    }

    public var json: [String: JSONValue] {
        var json = counts.json
        json["run"] = JSONValue(run)
        json["attribute"] = .string(attribute)
        json["state"] = .string(state.rawValue)
        json["resumed"] = .bool(resumed)
        json["pages"] = .number(Double(pages))
        return json
    }
}

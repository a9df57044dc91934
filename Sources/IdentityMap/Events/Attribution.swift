/// Who made a change, recorded on its event: `token:<name>`, `cli:<os user>`,
/// `trigger:<source>:token:<name>`, `system`.
///
/// The text is an opaque field of the canonical event bytes (docs/AUDIT.md), so a new form changes
/// nothing for events already written: events made by triggers before the token was named read
/// `trigger:<source>` and still verify.
public struct EventActor: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(unchecked description: String) { self.description = description }

    public static func token(name: String) -> EventActor { EventActor(unchecked: "token:\(name)") }
    public static func cli(user: String) -> EventActor { EventActor(unchecked: "cli:\(user)") }
    /// A Cognito trigger event (its `triggerSource`) posted with the token named: several
    /// forwarders (one per pool) can then be told apart, and a leaked one traced.
    public static func trigger(source: String, token: String) -> EventActor {
        EventActor(unchecked: "trigger:\(source):token:\(token)")
    }
    public static let system = EventActor(unchecked: "system")
}

/// The actor and request behind a change, threaded through every write so its event can name them.
public struct Attribution: Sendable {
    public var actor: EventActor
    public var requestID: String?

    public init(actor: EventActor, requestID: String? = nil) {
        self.actor = actor
        self.requestID = requestID
    }
}

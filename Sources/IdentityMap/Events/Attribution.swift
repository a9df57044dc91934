/// Who made a change, recorded on its event: `token:<name>`, `cli:<os user>`, `trigger:<source>`, `system`.
public struct EventActor: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(unchecked description: String) { self.description = description }

    public static func token(name: String) -> EventActor { EventActor(unchecked: "token:\(name)") }
    public static func cli(user: String) -> EventActor { EventActor(unchecked: "cli:\(user)") }
    public static func trigger(source: String) -> EventActor { EventActor(unchecked: "trigger:\(source)") }
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

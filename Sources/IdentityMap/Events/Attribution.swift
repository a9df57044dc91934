/// Who made a change, recorded on its event: `token:<name>`, `cli:<os user>`, `trigger:<source>`, `system`.
public struct Actor: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(unchecked description: String) { self.description = description }

    public static func token(name: String) -> Actor { Actor(unchecked: "token:\(name)") }
    public static func cli(user: String) -> Actor { Actor(unchecked: "cli:\(user)") }
    public static func trigger(source: String) -> Actor { Actor(unchecked: "trigger:\(source)") }
    public static let system = Actor(unchecked: "system")
}

/// The actor and request behind a change, threaded through every write so its event can name them.
public struct Attribution: Sendable {
    public var actor: Actor
    public var requestID: String?

    public init(actor: Actor, requestID: String? = nil) {
        self.actor = actor
        self.requestID = requestID
    }
}

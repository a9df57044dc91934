/// The password a user typed, as a migrate-user trigger hands it over (`request.password`).
///
/// A type of its own so the plaintext cannot leak by accident: printing, interpolating, dumping
/// or logging it shows `<redacted>`, it is not `Codable`, and the only way to the text is the
/// explicit `plaintext`, which the caller passes to `AdminInitiateAuth` against the source pool
/// and nowhere else.
public struct TriggerPassword: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The password as typed. Use it only to authenticate against the source pool.
    public let plaintext: String

    public init(_ plaintext: String) {
        self.plaintext = plaintext
    }

    public var description: String { "<redacted>" }

    public var debugDescription: String { "<redacted>" }

    /// No children, so `dump` and the default printing of a containing struct show nothing but
    /// the redacted description.
    public var customMirror: Mirror { Mirror(self, children: [Mirror.Child]()) }
}

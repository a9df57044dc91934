/// Why a body could not be read as a Cognito trigger event, or an answer does not fit the event.
///
/// Messages name fields, never their values: a migration event carries the user's password, and
/// these errors end up in logs and problem responses.
public enum TriggerEventError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a trigger event: not a JSON object, a required field missing, or a field of the wrong
    /// JSON type. The message names the field (`request.userAttributes`), not what was in it.
    case malformed(String)
    /// A `triggerSource` this service does not handle (a pre sign-up or custom message trigger
    /// pointed at the endpoint by mistake). Carries the source, cut to 64 characters.
    case unsupportedTrigger(String)
    /// A known trigger source with an event `version` whose response shape is unknown (only pre
    /// token generation has versions that change the shape: "1", "2" and "3").
    case unsupportedVersion(triggerSource: String, version: String)
    /// An answer of one kind asked of an event of another (a migration answer for a post
    /// authentication event): a programming error in the caller, reported instead of sending
    /// Cognito a response it would reject.
    case answerMismatch(answer: String, triggerSource: String)

    public var description: String {
        switch self {
        case .malformed(let message):
            return "malformed Cognito trigger event: \(message)"
        case .unsupportedTrigger(let source):
            return "unsupported Cognito trigger source \(source)"
        case .unsupportedVersion(let source, let version):
            return "unsupported version \(version) of Cognito trigger \(source)"
        case .answerMismatch(let answer, let source):
            return "a \(answer) answer does not fit trigger \(source)"
        }
    }

    /// Cuts a value taken from the body (a trigger source, a version) before it goes into an
    /// error, so that a hostile body cannot fill the logs.
    static func clipped(_ value: String) -> String {
        value.count <= 64 ? value : String(value.prefix(64)) + "…"
    }
}

public import Foundation

/// Why a webhook operation was refused. Only the API module turns these into HTTP answers, and
/// the CLI into exit code 2. No case carries a secret, and a URL only as its redacted form.
public enum WebhookError: Error, Sendable, Equatable {
    /// Not a URL StableID delivers to (its grammar); the reason says which part.
    case invalidURL(String)
    /// A well-formed URL that points where deliveries may not go (plain `http`, a loopback,
    /// private or link-local address) without `allow_private`.
    case urlNotAllowed(String)
    /// Not a Standard Webhooks secret.
    case invalidSecret
    case invalidKinds(String)
    case invalidDescription(String)
    case notFound(UUID)
    /// `enable --from-end` of an endpoint that is delivering: its worker owns the cursor.
    case enabledAlready(UUID)
}

extension WebhookError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidURL(let reason): return "not a webhook URL: \(reason)"
        case .urlNotAllowed(let reason):
            return "deliveries may not go there: \(reason)"
                + " (allow_private / --allow-private permits it, e.g. for a receiver on this network)"
        case .invalidSecret:
            return
                "the secret must be a Standard Webhooks secret: whsec_ followed by the standard base64 of 24 to 64 random bytes"
                + " (make one with: printf 'whsec_%s\\n' \"$(openssl rand -base64 32)\")"
        case .invalidKinds(let reason): return "kinds \(reason)"
        case .invalidDescription(let reason): return "description \(reason)"
        case .notFound(let id): return "no webhook \(id.uuidString.lowercased())"
        case .enabledAlready(let id):
            return "webhook \(id.uuidString.lowercased()) is enabled and delivering; disable it before moving its cursor to the end"
        }
    }
}

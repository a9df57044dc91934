public import ChangeFeed
public import Foundation

/// A registered webhook endpoint as lists show it: never its secret (only ``secretFingerprint``),
/// and its URL as ``redactedURL``.
public struct Webhook: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Delivered to by one server at a time.
        case enabled
        /// Stopped by an operator or by the service (``disabledReason``); `enable` resumes it from its cursor.
        case disabled
    }

    public var id: UUID
    /// The URL with credentials and query hidden (``WebhookURL/redacted``).
    public var redactedURL: String
    /// The change kinds delivered; empty: every kind.
    public var kinds: [ChangeKind]
    public var allowPrivate: Bool
    /// The operator's note (`--description`).
    public var note: String?
    public var state: State
    /// Why it is disabled: `operator`, `failing` (every attempt failed for the retry window),
    /// `gone` (the receiver answered 410), `cursor_expired` (its cursor fell behind the feed's retention).
    public var disabledReason: String?
    /// Every change at or before this feed position is delivered (or not of its kinds).
    public var cursor: FeedCursor
    /// The last position of the message being attempted, when one is (its changes and id are
    /// fixed until it is delivered).
    public var pendingThrough: Int64?
    /// The first failed attempt of the current message; nil while deliveries succeed.
    public var failingSince: Date?
    /// Failed attempts of the current message.
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastErrorCode: String?
    public var lastSuccessAt: Date?
    public var secretFingerprint: String
    public var createdAt: Date

    /// The cursor as clients hold it (`FeedCursor.text`).
    public var cursorText: String { cursor.text }

    /// The kinds' wire names (`identity.linked`, …), empty for every kind.
    public var kindNames: [String] { kinds.map(\.rawValue) }

    /// Reads `--kinds a,b` / `"kinds": [...]`: names of change kinds (``ChangeKind``), each once;
    /// none means every kind.
    public static func kinds(_ names: [String]) throws(WebhookError) -> [ChangeKind] {
        var kinds: [ChangeKind] = []
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let kind = ChangeKind(rawValue: name) else {
                throw .invalidKinds(
                    "names an unknown kind '\(name.prefix(40))'; use \(ChangeKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds.sorted { $0.rawValue < $1.rawValue }
    }

    /// An operator's note: 1 to 200 characters, no control characters.
    public static func checkNote(_ note: String?) throws(WebhookError) {
        guard let note else { return }
        // Counted as PostgreSQL's length() counts (code points), which the column's CHECK applies.
        guard (1...200).contains(note.unicodeScalars.count), note.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw .invalidDescription("must be 1 to 200 characters without control characters")
        }
    }
}

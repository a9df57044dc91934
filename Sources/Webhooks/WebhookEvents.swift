public import Foundation
public import IdentityMap
import Support

// The events of webhook administration and delivery (docs/AUDIT.md, Webhooks). Never the secret
// (its fingerprint at most), never the URL's credentials or query (its redacted form).

/// An endpoint registered.
public struct WebhookAddedDetails: EventDetails {
    public static let kind = EventKind.webhookAdded
    public var webhook: UUID
    /// ``WebhookURL/redacted``.
    public var url: String
    /// Change kinds delivered; empty: every kind.
    public var kinds: [String]
    public var allowPrivate: Bool
    public var secretFingerprint: String
    /// The feed position deliveries start after (the end of the feed when it was added).
    public var cursor: Int64
    public var note: String?

    public init(webhook: UUID, url: String, kinds: [String], allowPrivate: Bool, secretFingerprint: String, cursor: Int64, note: String?) {
        self.webhook = webhook
        self.url = url
        self.kinds = kinds
        self.allowPrivate = allowPrivate
        self.secretFingerprint = secretFingerprint
        self.cursor = cursor
        self.note = note
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "webhook": JSONValue(webhook), "url": .string(url), "kinds": .array(kinds.map(JSONValue.string)),
            "allow_private": .bool(allowPrivate), "secret_fingerprint": .string(secretFingerprint), "cursor": .number(Double(cursor)),
        ]
        if let note { json["description"] = .string(note) }
        return json
    }
}

/// An endpoint removed (its row and secret deleted); `cursor` is where its deliveries had got to.
public struct WebhookRemovedDetails: EventDetails {
    public static let kind = EventKind.webhookRemoved
    public var webhook: UUID
    public var url: String
    public var cursor: Int64

    public init(webhook: UUID, url: String, cursor: Int64) {
        self.webhook = webhook
        self.url = url
        self.cursor = cursor
    }

    public var json: [String: JSONValue] {
        ["webhook": JSONValue(webhook), "url": .string(url), "cursor": .number(Double(cursor))]
    }
}

/// An endpoint enabled again: deliveries resume after `cursor` — its own, or the feed's end when
/// `from_end` (the changes in between are skipped, knowingly).
public struct WebhookEnabledDetails: EventDetails {
    public static let kind = EventKind.webhookEnabled
    public var webhook: UUID
    public var cursor: Int64
    public var fromEnd: Bool

    public init(webhook: UUID, cursor: Int64, fromEnd: Bool) {
        self.webhook = webhook
        self.cursor = cursor
        self.fromEnd = fromEnd
    }

    public var json: [String: JSONValue] {
        ["webhook": JSONValue(webhook), "cursor": .number(Double(cursor)), "from_end": .bool(fromEnd)]
    }
}

/// An endpoint stopped. `reason`: `operator`, `failing` (every attempt failed for the retry
/// window), `gone` (410), `cursor_expired`; with the failure's first time, attempts and last code
/// when deliveries were failing.
public struct WebhookDisabledDetails: EventDetails {
    public static let kind = EventKind.webhookDisabled
    public var webhook: UUID
    public var reason: String
    public var cursor: Int64
    public var failingSince: Date?
    public var attempts: Int
    public var lastErrorCode: String?

    public init(webhook: UUID, reason: String, cursor: Int64, failingSince: Date?, attempts: Int, lastErrorCode: String?) {
        self.webhook = webhook
        self.reason = reason
        self.cursor = cursor
        self.failingSince = failingSince
        self.attempts = attempts
        self.lastErrorCode = lastErrorCode
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "webhook": JSONValue(webhook), "reason": .string(reason), "cursor": .number(Double(cursor)),
            "attempts": .number(Double(attempts)),
        ]
        if let failingSince { json["failing_since"] = .string(RFC3339.format(failingSince)) }
        if let lastErrorCode { json["last_error_code"] = .string(lastErrorCode) }
        return json
    }
}

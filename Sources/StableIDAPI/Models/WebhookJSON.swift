import ChangeFeed
import Foundation
import Support
import Webhooks

// The wire shapes of webhooks in the HTTP API (snake_case, as openapi.yaml describes them), and
// the body of a delivery.

/// `POST /v1/webhooks`. The secret comes in and never goes out again.
struct WebhookRequest: Decodable {
    var url: String
    var secret: String
    var kinds: [String]?
    var allowPrivate: Bool?
    var description: String?

    enum CodingKeys: String, CodingKey {
        case url, secret, kinds, description
        case allowPrivate = "allow_private"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        secret = try container.decode(String.self, forKey: .secret)
        kinds = try container.decodeUnlessAbsent([String].self, forKey: .kinds)
        allowPrivate = try container.decodeUnlessAbsent(Bool.self, forKey: .allowPrivate)
        description = try container.decodeUnlessAbsent(String.self, forKey: .description)
    }
}

/// `POST /v1/webhooks/{id}/enable`: an optional body; `from_end` skips to the end of the feed.
struct WebhookEnableRequest: Decodable {
    var fromEnd: Bool?

    enum CodingKeys: String, CodingKey {
        case fromEnd = "from_end"
    }
}

/// An endpoint as the API shows it: the URL redacted, the secret as its fingerprint only.
struct WebhookJSON: Encodable {
    var id: String
    var url: String
    var kinds: [String]
    var allowPrivate: Bool
    var description: String?
    var state: String
    var disabledReason: String?
    var cursor: String
    var pending: Bool
    var failingSince: String?
    var attempts: Int
    var nextAttemptAt: String?
    var lastErrorCode: String?
    var lastSuccessAt: String?
    var secretFingerprint: String
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, url, kinds, description, state, cursor, pending, attempts
        case allowPrivate = "allow_private"
        case disabledReason = "disabled_reason"
        case failingSince = "failing_since"
        case nextAttemptAt = "next_attempt_at"
        case lastErrorCode = "last_error_code"
        case lastSuccessAt = "last_success_at"
        case secretFingerprint = "secret_fingerprint"
        case createdAt = "created_at"
    }

    init(_ webhook: Webhook) {
        id = webhook.id.lowercasedString
        url = webhook.redactedURL
        kinds = webhook.kindNames
        allowPrivate = webhook.allowPrivate
        description = webhook.note
        state = webhook.state.rawValue
        disabledReason = webhook.disabledReason
        cursor = webhook.cursor.text
        pending = webhook.pendingThrough != nil
        failingSince = webhook.failingSince.map(RFC3339.format)
        attempts = webhook.attempts
        nextAttemptAt = webhook.nextAttemptAt.map(RFC3339.format)
        lastErrorCode = webhook.lastErrorCode
        lastSuccessAt = webhook.lastSuccessAt.map(RFC3339.format)
        secretFingerprint = webhook.secretFingerprint
        createdAt = RFC3339.format(webhook.createdAt)
    }
}

struct WebhooksJSON: Encodable {
    var webhooks: [WebhookJSON]
}

/// The body of one delivery, in the Standard Webhooks envelope: `type`, `timestamp` (the last
/// change's time: the same bytes on every attempt) and `data` — the changes exactly as
/// `GET /v1/changes` answers them (``ChangeJSON``) and `next`, the cursor after them.
struct WebhookPayloadJSON: Encodable {
    var type = "stableid.changes"
    var timestamp: String
    var data: Page

    struct Page: Encodable {
        var changes: [ChangeJSON]
        var next: String
    }

    /// The deterministic bytes of a message: what `JSONEncoder.sortedKeys()` writes for it, the
    /// changes by the feed's own writer (``ChangeJSON/write(to:)``).
    static func encode(_ changes: [FeedChange], next: FeedCursor) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + changes.count * 320)
        out.append(contentsOf: Array(#"{"data":{"changes":"#.utf8))
        ChangeJSON.writeArray(changes, to: &out)
        out.append(contentsOf: Array(#","next":"#.utf8))
        var next = next.text
        next.withUTF8 { JSONString.append(utf8: $0, to: &out) }
        out.append(contentsOf: Array(#"},"timestamp":"#.utf8))
        var timestamp = RFC3339.format(changes.last?.occurredAt ?? Date(timeIntervalSince1970: 0))
        timestamp.withUTF8 { JSONString.append(utf8: $0, to: &out) }
        out.append(contentsOf: Array(#","type":"stableid.changes"}"#.utf8))
        return out
    }

    /// The same through Foundation's encoder: what ``encode(_:next:)`` must equal (tests).
    static func encodedByFoundation(_ changes: [FeedChange], next: FeedCursor) throws -> [UInt8] {
        let payload = WebhookPayloadJSON(
            timestamp: RFC3339.format(changes.last?.occurredAt ?? Date(timeIntervalSince1970: 0)),
            data: Page(changes: changes.map { ChangeJSON($0) }, next: next.text))
        return Array(try JSONEncoder.sortedKeys().encode(payload))
    }
}

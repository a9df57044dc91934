import CryptoPrimitives

/// Signs a delivery as the Standard Webhooks specification says, so receivers can use its
/// libraries (or twenty lines of their own, docs/OPERATIONS.md):
/// - `webhook-id`: the message's id, the same on every attempt of that message;
/// - `webhook-timestamp`: the attempt's time, whole seconds since 1970 (receivers refuse old ones,
///   which stops a captured request from being replayed later);
/// - `webhook-signature`: `v1,` + base64 of HMAC-SHA-256, keyed with the secret's decoded bytes,
///   over `{id}.{timestamp}.{body}` — the body exactly as sent.
///
/// Pure; tests check it against an independent implementation (Python's `hmac`).
public struct WebhookSigner: Sendable {
    private let key: [UInt8]

    public init(secret: WebhookSecret) {
        key = secret.key
    }

    /// `v1,<base64>` for one attempt.
    public func signature(messageID: String, timestamp: Int64, body: [UInt8]) -> String {
        var content = Array("\(messageID).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return "v1," + Base64.encode(HMACSHA256.authenticationCode(key: key, message: content))
    }

    /// The headers of one attempt: the three signature headers and the body's type.
    public func headers(messageID: String, timestamp: Int64, body: [UInt8]) -> [(String, String)] {
        [
            ("Content-Type", "application/json"),
            ("webhook-id", messageID),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", signature(messageID: messageID, timestamp: timestamp, body: body)),
        ]
    }
}

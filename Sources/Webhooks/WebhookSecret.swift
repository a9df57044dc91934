import CryptoPrimitives
import Foundation
import Support

/// A Standard Webhooks signing secret: `whsec_` followed by the standard base64 of 24 to 64
/// random bytes. The decoded bytes are the HMAC-SHA-256 key of every signature.
///
/// It is kept in clear in PostgreSQL (the signature needs the key itself; docs/SECURITY.md says
/// why and who can read it) and nowhere else: no description, event, log line, error or answer
/// shows it. ``fingerprint`` — the first 8 hex digits of the SHA-256 of the text — is what lists
/// and events show, so an operator can tell which secret an endpoint has
/// (`tr -d '\n' < F | sha256sum | cut -c1-8`).
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let prefix = "whsec_"
    /// The key lengths accepted, in bytes: 192 bits at least, 512 at most (Standard Webhooks).
    public static let keyBytes = 24...64

    /// The whole secret (`whsec_…`), for the database only.
    let text: String
    /// The HMAC key.
    let key: [UInt8]

    /// `text` as a file or request carries it: white space around it (a file's last newline) is
    /// ignored; anything else but a secret of the right form is refused without echoing it.
    public init(parsing text: String) throws(WebhookError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix(Self.prefix), let key = Base64.decode(trimmed.dropFirst(Self.prefix.count)),
            Self.keyBytes.contains(key.count)
        else { throw .invalidSecret }
        self.text = trimmed
        self.key = key
    }

    /// As stored: trusted to have the form (the table's CHECK holds it), still checked.
    init(stored text: String) throws(WebhookError) {
        try self.init(parsing: text)
    }

    /// The first 8 hex digits of the SHA-256 of the secret's text.
    public var fingerprint: String {
        Self.fingerprint(of: text)
    }

    static func fingerprint(of text: String) -> String {
        String(Hex.encode(SHA256.hash(text)).prefix(8))
    }

    public var description: String { "whsec_…(\(fingerprint))" }
    public var debugDescription: String { description }
}

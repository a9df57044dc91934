public import CryptoPrimitives
import Synchronization

/// The tokens whose signature this process has verified, by the SHA-256 of their exact text, with
/// the key that verified each: a backend presents a user's token again and again for its hour of
/// life, and parsing it and checking an RSA signature cost more than the lookup it leads to.
///
/// Only the signature is remembered. A token seen again is answered from its remembered claims
/// after every other check runs afresh — its issuer still a registered pool, the same key object
/// still the one that pool's current key set gives for its `kid` (a refetched or rotated set
/// makes new key objects, so the signature is checked again), expiry and issue times against the
/// clock now, the pool's current app-client allow-list. Only tokens that passed every check are
/// remembered, so a flood of forged tokens never fills it; at ``capacity`` the expired entries go
/// first, then half of the rest.
public final class VerifiedTokenMemo: Sendable {
    public struct Entry: Sendable {
        public let keyID: String
        public let claims: CognitoTokenClaims
        public let key: RSAPublicKey
    }

    public static let defaultCapacity = 50_000
    public let capacity: Int
    private let entries = Mutex<[Digest: Entry]>([:])

    /// The SHA-256 of a token's text: the memo's key (the text itself, 1–2 KB, is not kept).
    public struct Digest: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        public init(_ text: String) {
            let bytes = SHA256.hash(text)
            func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
            words = (word(0), word(8), word(16), word(24))
        }

        public static func == (a: Digest, b: Digest) -> Bool { a.words == b.words }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    public init(capacity: Int = defaultCapacity) {
        self.capacity = max(0, capacity)
    }

    public func entry(_ digest: Digest) -> Entry? {
        entries.withLock { $0[digest] }
    }

    /// `capacity` 0 remembers nothing (every token verified in full).
    public func remember(_ digest: Digest, keyID: String, claims: CognitoTokenClaims, key: RSAPublicKey, now: Int64) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { ($0.value.claims.expiresAt ?? 0) > now }
                if entries.count >= capacity {
                    var dropping = true
                    entries = entries.filter { _ in
                        dropping.toggle()
                        return dropping
                    }
                }
            }
            entries[digest] = Entry(keyID: keyID, claims: claims, key: key)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}

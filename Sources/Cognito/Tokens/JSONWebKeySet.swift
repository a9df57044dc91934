public import CryptoPrimitives
import Foundation

/// An issuer's signing keys (RFC 7517 key set, as Cognito publishes at
/// `<issuer>/.well-known/jwks.json`), keeping only keys a token may be checked with: RSA (`kty`),
/// for signatures (`use` `sig` when given), for RS256 (`alg` when given), with a `kid`, and at
/// least ``RSAPublicKey/minimumBits`` bits. Any other entry is skipped, never an error: a set may
/// hold keys for other uses. A `kid` given twice is dropped: which key it names would be a guess.
public struct JSONWebKeySet: Sendable {
    public struct Malformed: Error, Sendable {}

    private let keys: [String: RSAPublicKey]
    /// Entries that were not usable keys (counted for the log).
    public let skipped: Int

    public var count: Int { keys.count }

    public subscript(keyID: String) -> RSAPublicKey? { keys[keyID] }

    /// The key set in `json`; `Malformed` unless it is an object whose `keys` is an array.
    public init(json: [UInt8]) throws(Malformed) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(json))
        } catch {
            throw Malformed()
        }
        var usable: [String: RSAPublicKey] = [:]
        var seen: [String: Int] = [:]
        for entry in document.keys {
            guard let kid = entry.kid else { continue }
            seen[kid, default: 0] += 1
            if let key = entry.rsaSigningKey() { usable[kid] = key }
        }
        let ambiguous = seen.filter { $0.value > 1 }.keys
        for kid in ambiguous { usable[kid] = nil }
        keys = usable
        skipped = document.keys.count - usable.count
    }

    /// Keys by id, for tests and callers that build a set themselves.
    public init(keys: [String: RSAPublicKey]) {
        self.keys = keys
        skipped = 0
    }

    private struct Document: Decodable {
        var keys: [Entry]
    }

    /// One key's members, each read leniently: a member of an unexpected type makes that key
    /// unusable, not the whole set.
    private struct Entry: Decodable {
        var kty, kid, use, alg, n, e: String?

        enum CodingKeys: String, CodingKey { case kty, kid, use, alg, n, e }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func text(_ key: CodingKeys) -> String? { try? container.decodeIfPresent(String.self, forKey: key) }
            kty = text(.kty)
            kid = text(.kid).flatMap { $0.isEmpty ? nil : $0 }
            use = text(.use)
            alg = text(.alg)
            n = text(.n)
            e = text(.e)
        }

        func rsaSigningKey() -> RSAPublicKey? {
            guard kty == "RSA", use == nil || use == "sig", alg == nil || alg == "RS256",
                let modulus = n.flatMap({ Base64URL.decode($0) }), let exponent = e.flatMap({ Base64URL.decode($0) })
            else { return nil }
            return try? RSAPublicKey(modulus: modulus, exponent: exponent)
        }
    }
}

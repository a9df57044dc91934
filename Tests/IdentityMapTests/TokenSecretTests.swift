import CryptoPrimitives
import Foundation
import IdentityMap
import Testing

/// The token format and its checksum: no database.
@Suite("Token secrets", .timeLimit(.minutes(2)))
struct TokenSecretTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    /// A published test key (bytes 0–31), for vectors anyone can recompute.
    static let key = TokenChecksumKey(bytes: Array(0..<32))

    @Test("a new token is sid_ + 43 + an 8-character checksum, and passes the shape check")
    func generated() {
        for _ in 0..<200 {
            let secret = TokenSecret.generate(key: Self.key)
            #expect(secret.value.hasPrefix("sid_") && secret.value.utf8.count == 55, "\(secret.value)")
            #expect(secret.shape(key: Self.key) == .checksummed)
        }
    }

    @Test("fixed vectors: base64url of HMAC-SHA256(key, 'stableid-token-checksum-v2\\n' ‖ first 47 characters), first 6 bytes")
    func vectors() {
        // Computed independently (Python: hmac.new(bytes(range(32)), …, hashlib.sha256),
        // base64.urlsafe_b64encode), so the format can be checked by anyone who writes it down.
        #expect(TokenSecret("sid_" + String(repeating: "A", count: 43) + "dEPbgauu").shape(key: Self.key) == .checksummed)
        #expect(TokenSecret("sid_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" + "A7qGRK0d").shape(key: Self.key) == .checksummed)
        #expect(TokenSecret("sid_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" + "dEPbgauu").shape(key: Self.key) == .malformed)
        // Another key: what someone who read the code but not the database would make.
        let other = TokenChecksumKey(bytes: Array(repeating: 7, count: 32))
        #expect(TokenSecret("sid_" + String(repeating: "A", count: 43) + "dEPbgauu").shape(key: other) == .malformed)
        // Without the key (not loaded yet) the database decides.
        #expect(TokenSecret("sid_" + String(repeating: "A", count: 43) + "zzzzzzzz").shape(key: nil) == .checksummed)
    }

    @Test("one character changed anywhere after sid_ fails the checksum")
    func flipped() {
        let secret = TokenSecret.generate(key: Self.key)
        var characters = Array(secret.value)
        for position in 4..<characters.count {
            let original = characters[position]
            // Another base64url character: still the right alphabet and length, only the sum is wrong.
            characters[position] = original == "A" ? "B" : "A"
            #expect(TokenSecret(String(characters)).shape(key: Self.key) == .malformed, "position \(position)")
            characters[position] = original
        }
        #expect(TokenSecret(String(characters)).shape(key: Self.key) == .checksummed)
    }

    @Test("tokens made before checksums (sid_ + 43 characters) are still well formed: the database decides")
    func legacy() {
        for _ in 0..<50 {
            let legacy = TokenSecret("sid_" + Base64URL.encode(SecureRandom.bytes(count: 32)))
            #expect(legacy.value.utf8.count == 47)
            #expect(legacy.shape(key: Self.key) == .legacy)
        }
        // The first 47 characters of a new token look like a legacy one (and are not a token).
        let new = TokenSecret.generate(key: Self.key)
        #expect(TokenSecret(String(new.value.prefix(47))).shape(key: Self.key) == .legacy)
    }

    @Test("anything else is malformed: prefix, length, alphabet")
    func malformed() {
        let new = TokenSecret.generate(key: Self.key).value
        let legacy = "sid_" + String(repeating: "A", count: 43)
        var values: [String] = ["", "sid_", "sid_wrong", "sid_not-a-real-token", "Bearer " + new]
        values.append(String(new.dropLast()))
        values.append(new + "A")
        values.append(String(legacy.dropLast()))
        values.append(legacy + "A")
        values.append("SID_" + String(legacy.dropFirst(4)))
        values.append("tok_" + String(new.dropFirst(4)))
        values.append(legacy.replacingOccurrences(of: "AAAA", with: "AA+A"))
        values.append(String(legacy.dropLast()) + "=")
        values.append(String(new.dropLast()) + ".")
        for value in values {
            #expect(TokenSecret(value).shape(key: Self.key) == .malformed, "\(value)")
        }
    }

    @Test("random 55-character values almost never pass the MAC (1 in 2^48)")
    func randomGuesses() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let guess = "sid_" + String((0..<51).map { _ in Self.alphabet.randomElement(using: &generator)! })
            #expect(TokenSecret(guess).shape(key: Self.key) == .malformed)
        }
    }
}

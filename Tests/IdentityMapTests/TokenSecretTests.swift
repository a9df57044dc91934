import CryptoPrimitives
import Foundation
import IdentityMap
import Testing

/// The token format and its checksum: no database.
@Suite("Token secrets")
struct TokenSecretTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    @Test("a new token is sid_ + 43 + an 8-character checksum, and passes the shape check")
    func generated() {
        for _ in 0..<200 {
            let secret = TokenSecret.generate()
            #expect(secret.value.hasPrefix("sid_") && secret.value.utf8.count == 55, "\(secret.value)")
            #expect(secret.shape == .checksummed && secret.isWellFormed)
        }
    }

    @Test("fixed vectors: base64url of SHA-256('stableid-token-checksum-v1\\n' ‖ first 47 characters), first 6 bytes")
    func vectors() {
        // Computed independently (Python: hashlib.sha256, base64.urlsafe_b64encode), so the format
        // can be checked by anyone who writes it down elsewhere.
        #expect(TokenSecret("sid_" + String(repeating: "A", count: 43) + "IuAt7fv4").shape == .checksummed)
        #expect(TokenSecret("sid_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" + "iQehwLnb").shape == .checksummed)
        #expect(TokenSecret("sid_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" + "IuAt7fv4").shape == .malformed)
    }

    @Test("one character changed anywhere after sid_ fails the checksum")
    func flipped() {
        let secret = TokenSecret.generate()
        var characters = Array(secret.value)
        for position in 4..<characters.count {
            let original = characters[position]
            // Another base64url character: still the right alphabet and length, only the sum is wrong.
            characters[position] = original == "A" ? "B" : "A"
            #expect(TokenSecret(String(characters)).shape == .malformed, "position \(position)")
            characters[position] = original
        }
        #expect(TokenSecret(String(characters)).shape == .checksummed)
    }

    @Test("tokens made before checksums (sid_ + 43 characters) are still well formed: the database decides")
    func legacy() {
        for _ in 0..<50 {
            let legacy = TokenSecret("sid_" + Base64URL.encode(SecureRandom.bytes(count: 32)))
            #expect(legacy.value.utf8.count == 47)
            #expect(legacy.shape == .legacy && legacy.isWellFormed)
        }
        // The first 47 characters of a new token look like a legacy one (and are not a token).
        let new = TokenSecret.generate()
        #expect(TokenSecret(String(new.value.prefix(47))).shape == .legacy)
    }

    @Test("anything else is malformed: prefix, length, alphabet")
    func malformed() {
        let new = TokenSecret.generate().value
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
            #expect(TokenSecret(value).shape == .malformed, "\(value)")
        }
        #expect(!TokenSecret("sid_wrong").isWellFormed)
    }

    @Test("random 55-character values almost never pass the checksum (1 in 2^48)")
    func randomGuesses() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let guess = "sid_" + String((0..<51).map { _ in Self.alphabet.randomElement(using: &generator)! })
            #expect(TokenSecret(guess).shape == .malformed)
        }
    }
}

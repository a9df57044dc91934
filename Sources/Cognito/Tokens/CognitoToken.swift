public import CryptoPrimitives
import Foundation

/// A JWT as received, its three parts decoded and nothing trusted yet.
///
/// Parsing reads the header first and refuses what no signature could redeem — an algorithm other
/// than RS256 (the `none` and HS256-with-the-public-key attacks), critical extensions, no key id —
/// before the payload is read or any key is looked up. The payload is then decoded for the issuer
/// (which names the pool whose keys sign it) and the claims ``TokenClaimsCheck`` reads once the
/// signature verified.
public struct CognitoToken: Sendable {
    /// Cognito's tokens are 1 to 2 KB, more with many groups or claims a pre-token-generation
    /// trigger adds; 16 KiB leaves room for that and bounds what one request makes us decode.
    public static let maxLength = 16 * 1024

    /// The header's `kid`: which key of the issuer's set signed it.
    public let keyID: String
    public let claims: CognitoTokenClaims
    /// `header.payload` as sent (ASCII): the bytes the signature covers.
    let signingInput: [UInt8]
    let signature: [UInt8]

    struct Header {
        var alg: String?
        var kid: String?
        var crit: [String]?
    }

    /// The form a request schema can state (three runs of base64url characters separated by two
    /// dots, the last run possibly empty, at most ``maxLength`` characters): no decoding.
    public static func isCompact(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard utf8.count <= maxLength else { return false }
        let parts = utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { return false }
        return parts.allSatisfy { $0.allSatisfy(isBase64URL) }
    }

    public init(parsing text: String) throws(TokenRejection) {
        guard Self.isCompact(text) else { throw .notCompact }
        let parts = Array(text.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let header = try Self.header(try Self.decoded(parts[0]))
        guard header.alg == "RS256" else { throw .algorithmNotAllowed }
        // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not understand,
        // and this one understands none.
        guard header.crit == nil else { throw .algorithmNotAllowed }
        guard let keyID = header.kid, !keyID.isEmpty, keyID.utf8.count <= 256 else { throw .keyUnknown }
        claims = try Self.claims(try Self.decoded(parts[1]))
        guard let signature = Base64URL.decode(utf8: parts[2]) else { throw .malformed }
        self.keyID = keyID
        self.signature = signature
        signingInput = Array(text.utf8.prefix(parts[0].count + 1 + parts[1].count))
    }

    /// Whether the signature is `key`'s RS256 signature over the header and payload as sent.
    public func isSigned(by key: RSAPublicKey) -> Bool {
        key.isValidSignature(signature, of: signingInput)
    }

    /// A part's bytes; `.malformed` unless it is canonical base64url.
    private static func decoded(_ part: ArraySlice<UInt8>) throws(TokenRejection) -> [UInt8] {
        guard let bytes = Base64URL.decode(utf8: part) else { throw .malformed }
        return bytes
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}

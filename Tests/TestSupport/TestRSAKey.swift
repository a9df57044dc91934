import COpenSSL
public import CryptoPrimitives
import Foundation

/// An RSA key pair for tests that need tokens signed the way Cognito signs them (RS256) by a key
/// the test serves. The service only ever verifies, so signing lives here, with the tests.
///
/// Owns one `EVP_PKEY`, freed in `deinit`. `@unchecked Sendable`: the key is never changed after
/// `init`, and OpenSSL lets threads sign with one key at once (each with its own `EVP_MD_CTX`).
public final class TestRSAKey: @unchecked Sendable {
    private let key: OpaquePointer
    /// Big-endian, as a JWK's `n` and `e` carry them.
    public let modulus: [UInt8]
    public let exponent: [UInt8]

    /// A new key of `bits` bits (2048 takes some tens of milliseconds; 1024 is for the tests of
    /// keys too small to accept).
    public init(bits: Int = 2048) {
        let context = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil)
        precondition(context != nil, "EVP_PKEY_CTX_new_from_name(RSA) failed")
        defer { EVP_PKEY_CTX_free(context) }
        var generated: OpaquePointer?
        let ok =
            EVP_PKEY_keygen_init(context) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) == 1
            && EVP_PKEY_generate(context, &generated) == 1
        guard ok, let generated else { preconditionFailure("RSA key generation failed") }
        key = generated
        modulus = Self.number("n", of: generated)
        exponent = Self.number("e", of: generated)
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// The public half as the service reads it.
    public var publicKey: RSAPublicKey {
        get throws { try RSAPublicKey(modulus: modulus, exponent: exponent) }
    }

    /// RSASSA-PKCS1-v1_5 over SHA-256 of `message` (JWS `RS256`).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        precondition(EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1, "EVP_DigestSignInit failed")
        var length = 0
        message.withUnsafeBufferPointer { m in
            precondition(EVP_DigestSign(context, nil, &length, m.baseAddress, m.count) == 1, "EVP_DigestSign (size) failed")
        }
        var signature = [UInt8](repeating: 0, count: length)
        message.withUnsafeBufferPointer { m in
            signature.withUnsafeMutableBufferPointer { s in
                precondition(EVP_DigestSign(context, s.baseAddress, &length, m.baseAddress, m.count) == 1, "EVP_DigestSign failed")
            }
        }
        return Array(signature.prefix(length))
    }

    /// This key as a member of a key set (JWKS); `use` and `alg` left out when nil.
    public func jwk(kid: String, use: String? = "sig", alg: String? = "RS256") -> [String: String] {
        var jwk = ["kty": "RSA", "kid": kid, "n": Base64URL.encode(modulus), "e": Base64URL.encode(exponent)]
        if let use { jwk["use"] = use }
        if let alg { jwk["alg"] = alg }
        return jwk
    }

    private static func number(_ name: String, of key: OpaquePointer) -> [UInt8] {
        var number: OpaquePointer?
        precondition(EVP_PKEY_get_bn_param(key, name, &number) == 1, "EVP_PKEY_get_bn_param(\(name)) failed")
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: (Int(BN_num_bits(number)) + 7) / 8)
        _ = bytes.withUnsafeMutableBufferPointer { BN_bn2bin(number, $0.baseAddress) }
        return bytes
    }
}

/// Compact JWTs made by hand: any header and claims, signed RS256 by a ``TestRSAKey``, HS256 with
/// a secret (the algorithm-confusion attack), or not at all.
public enum TestJWT {
    public enum Signature {
        case rs256(TestRSAKey)
        case hs256(secret: [UInt8])
        /// The given bytes, whatever they are (an empty signature for `alg: none`).
        case bytes([UInt8])
    }

    public static func make(header: [String: Any], claims: [String: Any], signature: Signature) -> String {
        let input = part(header) + "." + part(claims)
        let signed: [UInt8]
        switch signature {
        case .rs256(let key): signed = key.sign(Array(input.utf8))
        case .hs256(let secret): signed = HMACSHA256.authenticationCode(key: secret, message: Array(input.utf8))
        case .bytes(let bytes): signed = bytes
        }
        return input + "." + Base64URL.encode(signed)
    }

    /// `object` as JSON (keys sorted), base64url.
    public static func part(_ object: [String: Any]) -> String {
        Base64URL.encode(Array(json(object).utf8))
    }

    /// A key set document: `{"keys":[…]}`.
    public static func jwks(_ keys: [[String: String]]) -> String {
        json(["keys": keys])
    }

    public static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            preconditionFailure("not JSON: \(object)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The header and payload of a compact JWT, decoded (for tests that alter a real token).
    public static func parts(of token: String) -> (header: [String: Any], claims: [String: Any], signature: String)? {
        let pieces = token.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 3, let header = Base64URL.decode(pieces[0]), let claims = Base64URL.decode(pieces[1]),
            let headerObject = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any],
            let claimsObject = try? JSONSerialization.jsonObject(with: Data(claims)) as? [String: Any]
        else { return nil }
        return (headerObject, claimsObject, String(pieces[2]))
    }
}

import CryptoPrimitives
import Testing

/// RS256 checks against the published example of RFC 7515 Appendix A.2 (its 2048-bit key, signing
/// input and signature), and the limits on the keys accepted.
@Suite("RSA public keys and RS256", .timeLimit(.minutes(2)))
struct RSAPublicKeyTests {
    static let modulus = Base64URL.decode(
        """
        ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yR\
        T-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXB\
        dQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9ia\
        GNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ
        """
    )!
    static let exponent = Base64URL.decode("AQAB")!
    static let signingInput = Array(
        """
        eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19\
        yb290Ijp0cnVlfQ
        """.utf8
    )
    static let signature = Base64URL.decode(
        """
        cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9\
        uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB\
        _eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rq\
        Vt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw
        """
    )!

    @Test("the RFC 7515 A.2 signature verifies; any change to it or to the input does not")
    func rfc7515Example() throws {
        let key = try RSAPublicKey(modulus: Self.modulus, exponent: Self.exponent)
        #expect(key.bits == 2048)
        #expect(key.isValidSignature(Self.signature, of: Self.signingInput))

        var flipped = Self.signature
        flipped[100] ^= 0x01
        #expect(!key.isValidSignature(flipped, of: Self.signingInput))
        var input = Self.signingInput
        input[input.count - 1] ^= 0x01
        #expect(!key.isValidSignature(Self.signature, of: input))
        #expect(!key.isValidSignature(Array(Self.signature.dropLast()), of: Self.signingInput))
        #expect(!key.isValidSignature([0] + Self.signature, of: Self.signingInput))
        #expect(!key.isValidSignature([], of: Self.signingInput))
        // The same key built from a modulus with a leading zero byte (as some encoders write it).
        let padded = try RSAPublicKey(modulus: [0] + Self.modulus, exponent: [0] + Self.exponent)
        #expect(padded.bits == 2048 && padded.isValidSignature(Self.signature, of: Self.signingInput))
    }

    @Test("keys below 2048 or above 8192 bits, even moduli and odd exponents out of range are refused")
    func limits() {
        func failure(_ modulus: [UInt8], _ exponent: [UInt8] = [1, 0, 1]) -> RSAPublicKey.Failure? {
            do throws(RSAPublicKey.Failure) {
                _ = try RSAPublicKey(modulus: modulus, exponent: exponent)
                return nil
            } catch {
                return error
            }
        }
        // 1024 bits: a key anyone can factor with enough money is no key.
        #expect(failure([0xC5] + [UInt8](repeating: 0x5A, count: 126) + [0x01]) == .tooSmall(bits: 1024))
        // One bit short of 2048.
        #expect(failure([0x7F] + [UInt8](repeating: 0xFF, count: 255)) == .tooSmall(bits: 2047))
        #expect(failure([0x01] + [UInt8](repeating: 0xFF, count: 1024)) == .tooLarge(bits: 8193))
        #expect(failure([]) == .invalidModulus)
        #expect(failure([0, 0]) == .invalidModulus)
        #expect(failure(Array(Self.modulus.dropLast()) + [0x02]) == .invalidModulus)
        for exponent: [UInt8] in [[], [1], [2], [0, 1], [1, 0, 0], [1, 0, 0, 0, 1]] {
            #expect(failure(Self.modulus, exponent) == .invalidExponent, "exponent \(exponent)")
        }
        #expect(failure(Self.modulus, [3]) == nil)
        #expect(failure(Self.modulus, [0, 0, 0, 1, 0, 1]) == nil)
    }

    @Test("base64url decoding takes exactly what encoding writes")
    func base64urlDecoding() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            #expect(Base64URL.decode(Base64URL.encode(Array(text.utf8))) == Array(text.utf8))
        }
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
        let bytes = (0...255).map(UInt8.init)
        #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        // Padding, the standard alphabet's + and /, whitespace, a length no encoding has (4n + 1),
        // and unused bits that are not zero ("Zh" would be a second spelling of "Zg", "f").
        for text in ["Zg==", "Zg=", "+/8", "/w", "Zm 9v", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9"] {
            #expect(Base64URL.decode(text) == nil, "\(text)")
        }
        #expect(Base64URL.decode(utf8: Array("Zm9v".utf8)) == Array("foo".utf8))
    }
}

import CryptoPrimitives
import Support
import Testing

@Suite("Crypto primitives", .timeLimit(.minutes(2)))
struct CryptoPrimitivesTests {
    func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    @Test("SHA-256 matches the FIPS 180-2 examples")
    func sha256() {
        #expect(hex(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Bytes and text hash alike, the empty array included (its buffer has no address).
        #expect(SHA256.hash([UInt8]()) == SHA256.hash(""))
        #expect(SHA256.hash(Array("abc".utf8)) == SHA256.hash("abc"))
        #expect(SHA256.hash("abc".utf8.dropFirst()) == SHA256.hash("bc"))
        #expect(
            hex(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
    }

    @Test("HMAC-SHA-256 matches RFC 4231 test cases 1 and 2")
    func hmac() {
        let case1 = HMACSHA256.authenticationCode(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
        #expect(hex(case1) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let case2 = HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hex(case2) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("random bytes differ between calls")
    func random() {
        let a = SecureRandom.bytes(count: 32)
        let b = SecureRandom.bytes(count: 32)
        #expect(a.count == 32 && a != b)
    }

    @Test("base64url without padding (RFC 4648 §10 vectors, URL alphabet)")
    func base64url() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (input, output) in vectors {
            #expect(Base64URL.encode(Array(input.utf8)) == output)
        }
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        // Decoding is the exact inverse, and refuses every other spelling.
        for (input, output) in vectors {
            #expect(Base64URL.decode(output) == Array(input.utf8), "\(output)")
        }
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
        for bad in ["Z", "Zg=", "Zg==", "Zh", "Zm9", "Z+g", "Z/g", "Zm 9", "Zm9vY\u{e9}"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
        for _ in 0..<50 {
            let bytes = (0..<Int.random(in: 0...20)).map { _ in UInt8.random(in: 0...255) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test("constant-time equality: equal bytes only, any length")
    func constantTime() {
        #expect(ConstantTime.equals([UInt8](), []))
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([9, 2, 3], [1, 2, 3]))
        #expect(ConstantTime.equals("sid_abc", "sid_abc"))
        #expect(!ConstantTime.equals("sid_abc", "sid_abd"))
    }
}

import Cognito
import Foundation
import Testing

/// The published AWS SigV4 test suite (2015-08-30 vectors) and the S3 documentation example.
@Suite("SigV4 signer", .timeLimit(.minutes(2)))
struct SigV4SignerTests {
    let suite = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", source: "test")
    let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "Authorization" }?.1.components(separatedBy: "Signature=").last
    }

    @Test("get-vanilla")
    func getVanilla() {
        let signed = SigV4Signer(region: "us-east-1", service: "service").sign(
            method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: suite, date: suiteDate
        )
        #expect(
            signed.first { $0.0 == "Authorization" }?.1
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
        #expect(signed.contains { $0 == ("X-Amz-Date", "20150830T123600Z") })
    }

    @Test("post-vanilla")
    func postVanilla() {
        let signed = SigV4Signer(region: "us-east-1", service: "service").sign(
            method: "POST", path: "/", headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: suite, date: suiteDate
        )
        #expect(signature(signed) == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test("get-vanilla-query-order-key-case: parameters are sorted")
    func queryOrder() {
        let signed = SigV4Signer(region: "us-east-1", service: "service").sign(
            method: "GET", path: "/", query: "Param2=value2&Param1=value1", headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: suite, date: suiteDate
        )
        #expect(signature(signed) == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test("the S3 documentation's GET Object example (extra signed headers)")
    func s3Example() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", source: "test")
        let signed = SigV4Signer(region: "us-east-1", service: "s3").sign(
            method: "GET", path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: credentials, date: Date(timeIntervalSince1970: 1_369_353_600)
        )
        #expect(signature(signed) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.first { $0.0 == "Authorization" }?.1.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date") == true)
    }

    @Test("session credentials add a signed X-Amz-Security-Token; descriptions hide secrets")
    func sessionToken() {
        let temporary = AWSCredentials(
            accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret-key-value", sessionToken: "session-token-value", source: "test")
        let signed = SigV4Signer(region: "us-east-1", service: "cognito-idp").sign(
            method: "POST", path: "/", headers: [("Host", "cognito-idp.us-east-1.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: temporary, date: suiteDate
        )
        #expect(signed.contains { $0 == ("X-Amz-Security-Token", "session-token-value") })
        #expect(signed.first { $0.0 == "Authorization" }?.1.contains("SignedHeaders=host;x-amz-date;x-amz-security-token") == true)
        #expect(!"\(temporary)".contains("secret-key-value") && !"\(temporary)".contains("session-token-value"))
    }
}

import CryptoPrimitives
import Curl
import Foundation
import Support

extension SigV4Signer {
    /// The most of an AWS answer read. Cognito's largest is a ListUsers page: 60 users of up to
    /// ~70 attributes (50 custom, ~20 standard) of up to 2,048 characters, at most 6 bytes a
    /// character once JSON-escaped — some 52 MB in theory, tens of KB in practice; STS answers are
    /// a few KB. 64 MiB never refuses a real answer and still bounds what an endpoint set with
    /// `AWS_ENDPOINT_URL` (which can point anywhere) can make this process hold: past it the
    /// transfer stops with `CurlError.Kind.responseTooLarge`, which is not retried.
    static let maxAnswerBytes = 64 << 20

    /// A signed `POST` of `body` to `endpoint`, ready for libcurl: the one place AWS requests
    /// (Cognito's JSON API, STS's query API) are put together. Nil when the endpoint is not a URL.
    func signedPOST(
        to endpoint: String, headers: [(String, String)], body: [UInt8], credentials: AWSCredentials, timeout: Duration
    ) -> CurlRequest? {
        guard let url = URL(string: endpoint), let host = url.host else { return nil }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let signed = sign(
            method: "POST",
            path: url.path.isEmpty ? "/" : url.path,
            headers: [("Host", hostHeader)] + headers,
            payloadHash: Hex.encode(SHA256.hash(body)),
            credentials: credentials,
            date: Date()
        ).filter { $0.0 != "Host" }  // libcurl sends Host itself, with the same value
        return CurlRequest(
            method: "POST", url: endpoint, headers: signed, body: body, timeout: timeout,
            responseBodyLimit: .fail(above: Self.maxAnswerBytes))
    }
}

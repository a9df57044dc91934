import CryptoPrimitives
import Curl
import Foundation
import Support

extension SigV4Signer {
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
        return CurlRequest(method: "POST", url: endpoint, headers: signed, body: body, timeout: timeout)
    }
}

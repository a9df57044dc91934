import CryptoPrimitives
public import Foundation
import Support

/// AWS Signature Version 4 for header-signed requests.
///
/// Pure: given the request, credentials, region, service and time it returns the headers to add.
/// Tested byte for byte against the published AWS SigV4 test-suite vectors.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// Returns `request`'s headers plus `X-Amz-Date`, `X-Amz-Security-Token` (with session
    /// credentials) and `Authorization`. `headers` must include `Host`.
    public func sign(
        method: String,
        path: String,
        query: String = "",
        headers: [(String, String)],
        payloadHash: String,
        credentials: AWSCredentials,
        date: Date
    ) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var all = headers
        all.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { all.append(("X-Amz-Security-Token", token)) }

        // Canonical headers: lower-case names, trimmed values with inner runs of spaces folded,
        // sorted by name, repeated names joined with commas.
        var grouped: [String: [String]] = [:]
        for (name, value) in all {
            grouped[name.lowercased(), default: []].append(Self.trimAll(value))
        }
        let names = grouped.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [
            method, Self.canonicalPath(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(SHA256.hash(canonicalRequest))].joined(separator: "\n")
        var key = HMACSHA256.authenticationCode(key: Array("AWS4\(credentials.secretAccessKey)".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] {
            key = HMACSHA256.authenticationCode(key: key, message: Array(part.utf8))
        }
        let signature = Hex.encode(HMACSHA256.authenticationCode(key: key, message: Array(stringToSign.utf8)))
        all.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
            ))
        return all
    }

    /// `20150830T123600Z` and `20150830`, in UTC: the basic ISO 8601 form of the RFC 3339 text
    /// (`2015-08-30T12:36:00.000000Z`) without separators and fraction.
    static func timestamps(_ date: Date) -> (String, String) {
        let basic = String(RFC3339.format(date).prefix(19).filter { $0 != "-" && $0 != ":" })
        return (basic + "Z", String(basic.prefix(8)))
    }

    static func trimAll(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// RFC 3986 unreserved characters stay, everything else is %XX (upper-case hex).
    static func uriEncode(_ value: String, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                Hex.appendEncoded(byte, to: &out, uppercase: true)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func canonicalPath(_ path: String) -> String {
        path.isEmpty ? "/" : uriEncode(path.removingPercentEncoding ?? path, keepSlash: true)
    }

    /// Parameters sorted by encoded name, then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { part -> (String, String) in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pieces[0]).removingPercentEncoding ?? String(pieces[0])
            let value = pieces.count > 1 ? (String(pieces[1]).removingPercentEncoding ?? String(pieces[1])) : ""
            return (uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }
}

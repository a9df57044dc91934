import CryptoPrimitives
public import Curl
public import Foundation
import Support

/// Where STS is and how long one call may take.
public struct STSConfiguration: Sendable {
    public var region: String
    /// `https://sts.<region>.amazonaws.com/`, or an override (moto in tests).
    public var endpoint: String
    public var timeout: Duration

    public init(region: String, endpoint: String? = nil, timeout: Duration = .seconds(10)) {
        self.region = region
        let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        self.endpoint = endpoint ?? "https://sts.\(region).\(domain)/"
        self.timeout = timeout
    }

    /// The SDKs' endpoint variables: `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        region: String
    ) -> STSConfiguration {
        let endpoint =
            environment["AWS_ENDPOINT_URL_STS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_ENDPOINT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        return STSConfiguration(region: region, endpoint: endpoint)
    }
}

/// A failed STS call. Carries STS's error code and message (which name ARNs, never secrets), never
/// the request, the answer's body or any credentials.
public enum STSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// STS answered with an error document (`AccessDenied`, `ExpiredToken`, `RegionDisabledException`…).
    case service(code: String, message: String, status: Int)
    case transport(CurlError.Kind, message: String)
    /// A success status whose body holds no complete `Credentials` element.
    case malformedResponse(status: Int)
    /// Refused before sending: an endpoint that is not a URL, a session name or duration STS would reject.
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .service(let code, let message, let status): return "STS \(code) (HTTP \(status)): \(message)"
        case .transport(let kind, let message): return "STS unreachable (\(kind)): \(message)"
        case .malformedResponse(let status): return "STS answered AssumeRole (HTTP \(status)) without readable credentials"
        case .invalidRequest(let message): return message
        }
    }

    /// Throttling, server errors and transport failures may pass; a refusal will not.
    public var isRetryable: Bool {
        switch self {
        case .service(let code, _, let status):
            return status >= 500 || ["Throttling", "ThrottlingException", "RequestLimitExceeded"].contains(code)
        case .transport(let kind, _):
            return kind == .timeout || kind == .connect
        case .malformedResponse, .invalidRequest:
            return false
        }
    }
}

/// AWS STS over the Query protocol (form-encoded POST, XML answers), SigV4-signed with the base
/// credentials: enough of it to assume a role, so that a user pool in another account can be read.
public final class STSClient: Sendable {
    public let configuration: STSConfiguration
    let credentials: any CredentialsProvider
    let http: CurlClient
    let signer: SigV4Signer

    public init(configuration: STSConfiguration, credentials: any CredentialsProvider, http: CurlClient = CurlClient()) {
        self.configuration = configuration
        self.credentials = credentials
        self.http = http
        self.signer = SigV4Signer(region: configuration.region, service: "sts")
    }

    /// `AssumeRole`: temporary credentials for `roleARN`. `duration` must lie within STS's
    /// 15 minutes to 12 hours (and the role's maximum session duration, which STS checks).
    /// Errors of the base credentials provider pass through unchanged.
    public func assumeRole(
        roleARN: String,
        sessionName: String,
        externalID: String? = nil,
        duration: Duration = .seconds(3600)
    ) async throws -> AWSCredentials {
        let seconds = duration.components.seconds
        guard (900...43_200).contains(seconds) else {
            throw STSError.invalidRequest("an assumed-role session lasts 900 to 43200 seconds, not \(seconds)")
        }
        guard Self.isValidSessionName(sessionName) else {
            throw STSError.invalidRequest("a role session name has 2 to 64 of the characters A-Z a-z 0-9 + = , . @ _ -")
        }
        var parameters = [
            ("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", roleARN), ("RoleSessionName", sessionName),
            ("DurationSeconds", String(seconds)),
        ]
        if let externalID { parameters.append(("ExternalId", externalID)) }
        let body = Array(Self.formEncode(parameters).utf8)
        let response = try await send(body: body)
        let text = String(decoding: response.body, as: UTF8.self)
        guard (200..<300).contains(response.status) else {
            let error = STSXML.error(in: text)
            throw STSError.service(
                code: error?.code ?? (response.status >= 500 ? "InternalFailure" : "UnknownError"),
                message: error?.message ?? "HTTP \(response.status)",
                status: response.status
            )
        }
        guard let credentials = STSXML.credentials(in: text, source: "assume-role:\(roleARN)") else {
            throw STSError.malformedResponse(status: response.status)
        }
        return credentials
    }

    private func send(body: [UInt8]) async throws -> CurlResponse {
        let base = try await credentials.credentials()
        guard
            let request = signer.signedPOST(
                to: configuration.endpoint, headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: body,
                credentials: base, timeout: configuration.timeout
            )
        else {
            throw STSError.invalidRequest("the STS endpoint \(configuration.endpoint) is not a URL")
        }
        do {
            return try await http.send(request)
        } catch {
            throw STSError.transport(error.kind, message: error.message)
        }
    }

    /// `application/x-www-form-urlencoded` with RFC 3986 percent-encoding (what AWS expects).
    static func formEncode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(SigV4Signer.uriEncode($0.0, keepSlash: false))=\(SigV4Signer.uriEncode($0.1, keepSlash: false))" }
            .joined(separator: "&")
    }

    static func isValidSessionName(_ name: String) -> Bool {
        (2...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "+=,.@_-".utf8.contains(byte)
                }
            }
    }
}

/// Reads the few elements StableID needs from STS's XML answers, without an XML library.
///
/// Not a parser: it finds the first `<Name>` (or `<Name attr…>`) and the next `</Name>` after it and
/// decodes the five predefined entities and numeric character references in between. STS answers
/// are flat, generated documents with no CDATA, comments or nested same-name elements, so that is
/// enough; anything it cannot read is reported as malformed, never guessed.
enum STSXML {
    /// The `Credentials` of an `AssumeRoleResponse`; nil unless all four parts are there.
    static func credentials(in document: String, source: String) -> AWSCredentials? {
        guard let credentials = content(of: "Credentials", in: document[...]),
            let key = text(of: "AccessKeyId", in: credentials), !key.isEmpty,
            let secret = text(of: "SecretAccessKey", in: credentials), !secret.isEmpty,
            let token = text(of: "SessionToken", in: credentials), !token.isEmpty,
            let expirationText = text(of: "Expiration", in: credentials),
            let expiration = RFC3339.parse(expirationText)
        else { return nil }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: source)
    }

    /// `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>…`; nil without a `Code`.
    static func error(in document: String) -> (code: String, message: String)? {
        guard let error = content(of: "Error", in: document[...]), let code = text(of: "Code", in: error), !code.isEmpty else {
            return nil
        }
        return (code, text(of: "Message", in: error) ?? "")
    }

    /// The decoded, trimmed text of the first `name` element in `document`.
    static func text(of name: String, in document: Substring) -> String? {
        content(of: name, in: document).map { unescape($0).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The raw content of the first `name` element in `document` (empty for `<name/>`).
    static func content(of name: String, in document: Substring) -> Substring? {
        let open = "<" + name
        let close = "</" + name + ">"
        var searchFrom = document.startIndex
        while let start = document[searchFrom...].range(of: open) {
            let afterName = start.upperBound
            guard afterName < document.endIndex else { return nil }
            let next = document[afterName]
            // `<AccessKeyIdentifier>` must not match `AccessKeyId`.
            guard next == ">" || next == "/" || next.isWhitespace else {
                searchFrom = afterName
                continue
            }
            guard let tagEnd = document[afterName...].firstIndex(of: ">") else { return nil }
            let contentStart = document.index(after: tagEnd)
            if document[document.index(before: tagEnd)] == "/" { return document[contentStart..<contentStart] }
            guard let end = document[contentStart...].range(of: close) else { return nil }
            return document[contentStart..<end.lowerBound]
        }
        return nil
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#NN;` `&#xHH;`; any other `&` stays as it is.
    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let ampersand = rest.firstIndex(of: "&") {
            out.append(contentsOf: rest[..<ampersand])
            let afterAmpersand = rest.index(after: ampersand)
            if let semicolon = rest[afterAmpersand...].prefix(10).firstIndex(of: ";"),
                let decoded = entity(rest[afterAmpersand..<semicolon])
            {
                out.append(decoded)
                rest = rest[rest.index(after: semicolon)...]
            } else {
                out.append("&")
                rest = rest[afterAmpersand...]
            }
        }
        out.append(contentsOf: rest)
        return out
    }

    private static func entity(_ name: Substring) -> Character? {
        switch name {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard name.first == "#" else { return nil }
            let digits = name.dropFirst()
            let value: UInt32?
            if digits.first == "x" || digits.first == "X" {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits, radix: 10)
            }
            return value.flatMap { Unicode.Scalar($0) }.map { Character($0) }
        }
    }
}

import CryptoPrimitives
import Foundation
import Support

/// The URL of a webhook endpoint, read by a deliberately narrow grammar so that what is checked
/// here is what libcurl will connect to:
/// `https://[user:password@]host[:port][/path][?query]` — ASCII, no white space, no backslash,
/// no fragment; the host a DNS name (letters, digits, `-`, `_`, dots), a dotted-quad IPv4
/// address or a bracketed IPv6 address without a zone. A host that looks like a number in any
/// other spelling (`127.1`, `0x7f000001`) is refused rather than guessed at.
///
/// Without `allowPrivate`: `https` only, and neither a literal address that is not public
/// (``AddressRule``) nor `localhost` (or a name under it). That is the check at add time; names
/// are checked again at every connection, against the address they resolve to then (the
/// delivery's connect filter).
public struct WebhookURL: Sendable, Equatable {
    /// As given.
    public let text: String
    public let scheme: String
    /// Lower-cased; an IPv6 literal without its brackets.
    public let host: String
    public let port: Int?
    /// The host's address when the URL names one literally.
    public let literalAddress: [UInt8]?
    let userInfo: Substring?

    public static let maxLength = 2_048

    public init(parsing text: String, allowPrivate: Bool) throws(WebhookError) {
        guard !text.isEmpty, text.utf8.count <= Self.maxLength else {
            throw .invalidURL("give a URL of at most \(Self.maxLength) characters")
        }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" }) else {
            throw .invalidURL("only printable ASCII without spaces or backslashes (percent-encode the rest)")
        }
        guard !text.contains("#") else { throw .invalidURL("a fragment (#…) is never sent; leave it out") }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw .invalidURL("the scheme must be https (http only for an endpoint added with allow_private)")
        }
        guard scheme == "https" || allowPrivate else {
            throw .urlNotAllowed("plain http sends the signed changes in clear; use https")
        }
        let rest = text.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var hostPort = authority
        var userInfo: Substring?
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            guard !userInfo!.contains("@") else { throw .invalidURL("the user information holds an unencoded @") }
        }
        let (host, port, address) = try Self.hostAndPort(hostPort)
        self.text = text
        self.scheme = scheme
        self.host = host
        self.port = port
        self.literalAddress = address
        self.userInfo = userInfo
        if !allowPrivate { try checkPublic() }
    }

    /// The URL with everything that may carry a receiver's credential hidden: user information,
    /// and the path and query together (Slack, Discord and Teams put their token in the path),
    /// shown as the first 8 hex digits of their SHA-256 so two endpoints of one host can be told
    /// apart: `https://***@host:8443/***#3035722f`. What events (kept for good), lists, answers
    /// and logs show.
    public var redacted: String {
        var out = scheme + "://"
        if userInfo != nil { out += "***@" }
        let rest = text.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        out += authority.lastIndex(of: "@").map { String(authority[authority.index(after: $0)...]) } ?? String(authority)
        let tail = String(rest[authorityEnd...])
        if !tail.isEmpty, tail != "/" {
            out += "/***#" + Hex.encode(SHA256.hash(tail).prefix(4))
        }
        return out
    }

    /// Whether the URL carried user information (`user:password@`).
    public var hasCredentials: Bool { userInfo != nil }

    private func checkPublic() throws(WebhookError) {
        if let literalAddress, let refusal = AddressRule.refusal(literalAddress) {
            throw .urlNotAllowed("\(host) is \(refusal)")
        }
        if host == "localhost" || host.hasSuffix(".localhost") {
            throw .urlNotAllowed("\(host) is this machine (loopback)")
        }
    }

    /// `host[:port]` with `host` a name, a dotted quad or `[IPv6]`.
    private static func hostAndPort(_ text: Substring) throws(WebhookError) -> (String, Int?, [UInt8]?) {
        var hostText = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidURL("an IPv6 address must end with ]") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL("only :port may follow an IPv6 address") }
                portText = after.dropFirst()
            }
            guard let address = AddressRule.parseIPv6(hostText) else {
                throw .invalidURL("\(hostText) is not an IPv6 address (a zone such as %eth0 is not accepted)")
            }
            return (hostText.lowercased(), try parsePort(portText), address)
        }
        if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        let host = hostText.lowercased()
        guard !host.isEmpty else { throw .invalidURL("the host is missing") }
        if let address = AddressRule.parseIPv4(host) { return (host, try parsePort(portText), address) }
        try checkName(host)
        return (host, try parsePort(portText), nil)
    }

    private static func parsePort(_ text: Substring?) throws(WebhookError) -> Int? {
        guard let text else { return nil }
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text),
            (1...65_535).contains(port)
        else { throw .invalidURL("the port must be a number from 1 to 65535") }
        return port
    }

    /// A DNS name: labels of letters, digits, `-` and `_`, 1 to 63 characters, not starting or
    /// ending with `-`; at most 253 characters. A last label that is a number (or `0x…`) would
    /// make the whole host an IPv4 address to some parsers: refused.
    private static func checkName(_ host: String) throws(WebhookError) {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard host.count <= 253,
            labels.allSatisfy({ label in
                (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            })
        else { throw .invalidURL("\(host) is not a host name") }
        let last = labels.last ?? ""
        if last.allSatisfy({ $0.isNumber }) || last.hasPrefix("0x") {
            throw .invalidURL("\(host) looks like an IPv4 address in an unusual spelling; write it as four decimal numbers")
        }
    }
}

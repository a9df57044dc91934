import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import NIOCore
import Testing

/// The report routes: served beside the API but outside bearer authentication (a form sign-in,
/// then a session cookie). openapi.yaml and the route table are checked against this list too.
let reportRoutes: [(method: HTTPRequest.Method, template: String)] = [
    (.get, "/report/login"), (.post, "/report/login"), (.get, "/report/campaigns"), (.get, "/report/campaigns/{id}"),
    (.post, "/report/campaigns/{id}/lookup"), (.post, "/report/logout"),
]

/// What a browser does on the report pages, by hand: cookies sent back, forms posted url-encoded.
enum ReportCookie {
    static let session = "stableid_report_session"
    static let signIn = "stableid_report_signin"
}

extension TestClientProtocol {
    /// One request as a browser would make it: `cookies` in a `Cookie` header, `form` url-encoded.
    func report(
        _ method: HTTPRequest.Method, _ uri: String, cookies: [String: String] = [:], form: [String: String]? = nil,
        accept: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if !cookies.isEmpty {
            headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        if let accept { headers[.accept] = accept }
        let body = form.map { fields in
            fields.sorted { $0.key < $1.key }.map { "\(formEncoded($0.key))=\(formEncoded($0.value))" }.joined(separator: "&")
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Opens the sign-in form, posts `token` with the form's CSRF value, and answers the session
    /// cookie (nil when the sign-in was refused) with the reply.
    func signIn(token: String, next: String? = nil) async throws -> (session: String?, reply: Reply) {
        let form = try await report(.get, "/report/login")
        let csrf = try #require(form.cookie(ReportCookie.signIn))
        var fields = ["token": token, "csrf": csrf]
        if let next { fields["next"] = next }
        let reply = try await report(.post, "/report/login", cookies: [ReportCookie.signIn: csrf], form: fields)
        return (reply.cookie(ReportCookie.session).flatMap { $0.isEmpty ? nil : $0 }, reply)
    }
}

/// `application/x-www-form-urlencoded`: everything but unreserved characters percent-encoded.
private func formEncoded(_ text: String) -> String {
    let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
    return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
}

extension Reply {
    /// The whole `Set-Cookie` line for the cookie `name`.
    func setCookie(_ name: String) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix(name + "=") }
    }

    /// The value a `Set-Cookie` gives the cookie `name` (empty when it clears it).
    func cookie(_ name: String) -> String? {
        setCookie(name).map { String($0.dropFirst(name.count + 1).prefix { $0 != ";" }) }
    }

    /// The `csrf` hidden field of the first form after `marker` in the page.
    func csrf(after marker: String) -> String? {
        guard let start = text.range(of: marker),
            let field = text.range(of: #"name="csrf" value=""#, range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[field.upperBound...].prefix { $0 != "\"" })
    }

    var location: String? { headers[.location] }

    /// The headers every report answer must carry, whatever its status, that are missing or wrong.
    var reportHeaderProblems: [String] {
        let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
        let expected: [(HTTPField.Name, String)] = [
            (.contentSecurityPolicy, policy),
            (.cacheControl, "no-store"), (.xContentTypeOptions, "nosniff"), (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        ]
        return expected.compactMap { name, value in headers[name] == value ? nil : "\(name): \(headers[name] ?? "absent")" }
    }
}

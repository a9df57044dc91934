import CampaignReport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How the report routes answer: HTML pages, `303 See Other` after a form or to the sign-in page,
/// and the headers every answer carries (set by ``ReportPageMiddleware``).
enum ReportResponse {
    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `303`: the browser follows with a GET, so a reload never posts a form again.
    static func redirect(to path: String) -> Response {
        Response(status: .seeOther, headers: [.location: path])
    }

    /// The sign-in page, with `next` (a page of the report) to come back to.
    static func signIn(returningTo next: String?) -> Response {
        let kept = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
        guard let next, ReportPaths.isSafeReturn(next), let encoded = next.addingPercentEncoding(withAllowedCharacters: kept) else {
            return redirect(to: ReportPaths.login)
        }
        return redirect(to: ReportPaths.login + "?next=" + encoded)
    }

    /// A client that asks for JSON (and not HTML) gets problem+json instead of an error page.
    static func wantsJSON(_ request: Request) -> Bool {
        let accept = request.headers[.accept]?.lowercased() ?? ""
        return accept.contains("json") && !accept.contains("text/html")
    }

    /// What every report answer carries: never cached (pages show people's subs and histories),
    /// no script, style only inline, images only `data:`, forms only to this origin, never framed,
    /// no content sniffing, no `Referer` leaking a page's path elsewhere.
    static let securityHeaders: HTTPFields = [
        .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
    ]
}

extension HTTPField.Name {
    /// Not among HTTPTypes' names.
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}

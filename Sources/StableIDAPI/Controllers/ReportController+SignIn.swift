import CampaignReport
import CryptoPrimitives
import HTTPTypes
import Hummingbird
import IdentityMap
import Logging

extension ReportController {
    /// The sign-in form. Its CSRF field repeats the pre-session cookie, which is set here (or
    /// kept, so two open sign-in tabs both work).
    @Sendable func signInForm(request: Request, context: AppRequestContext) async throws -> Response {
        let csrf = ReportCookies.value(ReportCookies.signIn, in: request) ?? ReportCookies.newValue()
        let next = request.uri.queryParameters.get("next").flatMap { ReportPaths.isSafeReturn($0) ? $0 : nil }
        var response = ReportResponse.html(.ok, LoginPage(csrfToken: csrf, next: next).html())
        response.headers[values: .setCookie].append(cookies.signIn(csrf))
        return response
    }

    /// Checks the double-submitted CSRF value, then the token exactly as bearer authentication
    /// does (``TokenAuthenticator``: same cache, same shedding, same revocation), then scope
    /// `audit`; a session is made and the browser sent on (`303`) to `next` when that is a report
    /// page, else to the campaign list. A refused token gets the form again — 401, saying nothing
    /// about why, and never repeating the token.
    @Sendable func signIn(request: Request, context: AppRequestContext) async throws -> Response {
        let form = try ReportForm.decode(ReportForm.SignIn.self, from: try await bodyReader.collect(request))
        guard let expected = ReportCookies.value(ReportCookies.signIn, in: request), let given = form.csrf,
            ConstantTime.equals(expected, given)
        else { throw Problem.csrfFailed }
        let next = form.next.flatMap { ReportPaths.isSafeReturn($0) ? $0 : nil }
        func refused(_ status: HTTPResponse.Status, _ message: String) -> Response {
            context.logger.info("report sign-in refused", metadata: ["status": "\(status.code)"])
            return ReportResponse.html(status, LoginPage(csrfToken: expected, next: next, error: message).html())
        }
        guard let secret = form.token, (1...256).contains(secret.utf8.count) else {
            return refused(.unauthorized, "That token was not accepted.")
        }
        let token: APIToken
        switch try await authenticator.authenticate(TokenSecret(secret)) {
        case .authenticated(let found):
            token = found
        case .unknown:
            return refused(.unauthorized, "That token was not accepted.")
        case .shed:
            throw Problem(
                .serviceUnavailable, code: "overloaded", title: "Too many unknown tokens are being checked",
                detail: "try again in a moment", headers: [.retryAfter: "1"]
            )
        }
        guard token.scopes.contains(.audit) else { return refused(.forbidden, "That token does not have the audit scope.") }
        guard let created = try await sessions.create(for: token) else { return refused(.unauthorized, "That token was not accepted.") }
        // A sign-in replaces the browser's earlier session rather than leaving it alive unseen.
        if let earlier = ReportCookies.value(ReportCookies.session, in: request) { try? await sessions.signOut(earlier) }
        context.logger.info("report sign-in", metadata: ["token": "\(token.name)"])
        var response = ReportResponse.redirect(to: next ?? ReportPaths.campaigns)
        response.headers[values: .setCookie] = [cookies.session(created.cookie), cookies.clearSignIn()]
        return response
    }
}

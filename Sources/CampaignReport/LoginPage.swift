/// The sign-in form of the report pages: a token of scope `audit`, posted once. The token goes in
/// the body of a POST (never a URL), in a password field (not shown, not remembered as form
/// history); the CSRF field holds the value of the pre-session cookie (double submit).
public struct LoginPage: Sendable {
    public var csrfToken: String
    /// Where to go once signed in: a local report path (``ReportPaths/isSafeReturn(_:)``).
    public var next: String?
    /// Shown above the form after a refused attempt. It never names the token.
    public var error: String?

    public init(csrfToken: String, next: String? = nil, error: String? = nil) {
        self.csrfToken = csrfToken
        self.next = next
        self.error = error
    }

    public func html() -> String {
        var body = #"<section class="signin"><h1>Sign in to the reports</h1>"#
        body += #"<p class="muted">Give a StableID API token with the <code>audit</code> scope "#
        body += "(<code>stableid token create --name reports --scope audit</code>). It is checked once; the browser then keeps a session "
        body += "that ends after 8 hours, after 30 minutes unused, at sign-out, or when the token is revoked.</p>"
        if let error { body += #"<p class="error" role="alert">\#(HTML.escape(error))</p>"# }
        body += #"<form method="post" action="\#(ReportPaths.login)">"#
        body += ReportDocument.hiddenCSRF(csrfToken)
        if let next, ReportPaths.isSafeReturn(next) {
            body += #"<input type="hidden" name="next" value="\#(HTML.escape(next))">"#
        }
        body += #"<label>Token<input type="password" name="token" required autocomplete="off" spellcheck="false"></label>"#
        body += #"<button type="submit">Sign in</button></form></section>"#
        return ReportDocument.render(title: "Sign in", body: body)
    }
}

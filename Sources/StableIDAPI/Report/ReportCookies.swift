import CampaignReport
import CryptoPrimitives
import Hummingbird
import IdentityMap

/// The report pages' two cookies, both `HttpOnly` (no script reads them; the pages have none),
/// `SameSite=Strict` (no other site's page or link sends them), `Path=/report` (the API never
/// sees them) and `Secure` when the service sits behind TLS (``APIConfiguration/reportSecureCookies``):
///
/// - the session cookie: 32 random bytes naming a ``ReportSession``, for its lifetime;
/// - the pre-session cookie of the sign-in form: 32 random bytes the form repeats in its hidden
///   `csrf` field (double submit). Another site can make a browser post the form, but cannot read
///   or set this cookie, so it cannot make the two agree.
struct ReportCookies: Sendable {
    static let session = "stableid_report_session"
    static let signIn = "stableid_report_signin"
    /// How long a sign-in form stays usable: long enough to find a token, short enough not to linger.
    static let signInLifetimeSeconds = 1800

    let secure: Bool

    func session(_ value: String) -> String {
        header(Self.session, value, maxAge: Int(ReportSessionStore.lifetime.components.seconds))
    }

    func clearSession() -> String {
        header(Self.session, "", maxAge: 0)
    }

    func signIn(_ value: String) -> String {
        header(Self.signIn, value, maxAge: Self.signInLifetimeSeconds)
    }

    func clearSignIn() -> String {
        header(Self.signIn, "", maxAge: 0)
    }

    /// A `Set-Cookie` value, attributes in a fixed order.
    func header(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=\(ReportPaths.root); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The value of the cookie `name` the request carries, if it is shaped like one of ours (43
    /// base64url characters): anything else is as good as none.
    static func value(_ name: String, in request: Request) -> String? {
        guard let value = request.cookies[name]?.value, ReportSessionStore.isShapedLikeCookie(value) else { return nil }
        return value
    }

    /// A fresh random value for a cookie.
    static func newValue() -> String {
        Base64URL.encode(SecureRandom.bytes(count: 32))
    }
}

import CryptoPrimitives
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import Logging
import Postgres
import StableIDAPI
import TestSupport
import Testing

/// Signing in to the report pages: the form, its double-submitted CSRF value, the token checked
/// as bearer authentication checks it, scope `audit`, and the session cookie that follows.
@Suite("Report sign-in", .timeLimit(.minutes(3)))
struct ReportSignInTests {
    @Test("the sign-in form sets the pre-session cookie and repeats it in its CSRF field; every answer has the security headers")
    func signInForm() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let form = try await client.report(.get, "/report/login")
            #expect(form.status == 200)
            #expect(form.headers[.contentType] == "text/html; charset=utf-8")
            #expect(form.reportHeaderProblems == [])
            let line = try #require(form.setCookie(ReportCookie.signIn))
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/report"] { #expect(line.contains(attribute), "\(line)") }
            #expect(!line.contains("Secure"), "served on loopback: \(line)")
            let value = try #require(form.cookie(ReportCookie.signIn))
            #expect(value.count == 43)
            #expect(form.csrf(after: #"action="/report/login""#) == value)
            #expect(form.text.contains(#"name="token""#) && form.text.contains(#"type="password""#))
            #expect(!form.text.lowercased().contains("<script"))
            // An open form is kept: a second tab's GET does not invalidate the first one's field.
            let again = try await client.report(.get, "/report/login", cookies: [ReportCookie.signIn: value])
            #expect(again.cookie(ReportCookie.signIn) == value)
        }
    }

    @Test("POST /report/login without the CSRF value, or with one that does not match the cookie, is refused (403) and makes no session")
    func signInNeedsCSRF() async throws {
        let f = try await APIFixture.make()
        let audit = f.tokens[.audit]!
        try await f.test { client in
            let csrf = try #require(try await client.report(.get, "/report/login").cookie(ReportCookie.signIn))
            let attempts: [([String: String], [String: String])] = [
                ([:], ["token": audit]),
                ([ReportCookie.signIn: csrf], ["token": audit]),
                ([:], ["token": audit, "csrf": csrf]),
                ([ReportCookie.signIn: csrf], ["token": audit, "csrf": String(csrf.reversed())]),
            ]
            for (cookies, form) in attempts {
                let reply = try await client.report(.post, "/report/login", cookies: cookies, form: form)
                #expect(reply.status == 403, "\(cookies.keys.sorted()) \(form.keys.sorted()): \(reply.status)")
                #expect(reply.text.contains("The form was refused"))
                #expect(reply.reportHeaderProblems == [])
                #expect(reply.setCookie(ReportCookie.session) == nil)
            }
            let json = try await client.report(
                .post, "/report/login", cookies: [ReportCookie.signIn: csrf], form: ["token": audit], accept: "application/json")
            #expect(json.status == 403 && json.code == "csrf_failed" && json.isProblem, "\(json)")
        }
        #expect(try f.db.count("report_sessions") == 0)
    }

    @Test("a wrong, revoked or malformed token gets the form again (401) without a session and without repeating it")
    func wrongToken() async throws {
        let f = try await APIFixture.make()
        let wrong = "sid_" + String(repeating: "A", count: 43) + "BBBBBBBB"
        try await f.test { client in
            for token in [wrong, f.revokedToken, "not a token", ""] {
                let (session, reply) = try await client.signIn(token: token)
                #expect(reply.status == 401, "\(reply.status)")
                #expect(session == nil)
                #expect(reply.text.contains("That token was not accepted."))
                #expect(reply.text.contains(#"name="token""#))
                #expect(token.isEmpty || !reply.text.contains(token))
            }
        }
        #expect(try f.db.count("report_sessions") == 0)
    }

    @Test("a token without scope audit is refused (403), and makes no session")
    func needsAuditScope() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            for scope in Scope.allCases where scope != .audit {
                let (session, reply) = try await client.signIn(token: f.tokens[scope]!)
                #expect(reply.status == 403, "\(scope): \(reply.status)")
                #expect(session == nil)
                #expect(reply.text.contains("audit scope"))
            }
        }
        #expect(try f.db.count("report_sessions") == 0)
    }

    @Test("a form posted from another site is refused before it is read, whatever it carries; a sign-in ends the browser's earlier session")
    func crossSiteAndReplacedSession() async throws {
        let f = try await APIFixture.make()
        let audit = f.tokens[.audit]!
        try await f.test { client in
            let csrf = try #require(try await client.report(.get, "/report/login").cookie(ReportCookie.signIn))
            let foreign: [HTTPFields] = [
                [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"], [HTTPField.Name("Sec-Fetch-Site")!: "same-site"],
                [.origin: "https://evil.example"],
            ]
            for headers in foreign {
                let reply = try await client.report(
                    .post, "/report/login", cookies: [ReportCookie.signIn: csrf], form: ["token": audit, "csrf": csrf], headers: headers)
                #expect(reply.status == 403 && reply.setCookie(ReportCookie.session) == nil, "\(headers): \(reply.status)")
            }
            #expect(try f.db.count("report_sessions") == 0)
            let first = try #require(try await client.signIn(token: audit).session)
            // Signing in again from the same browser (its session cookie sent along) replaces it.
            let form = try await client.report(.get, "/report/login")
            let csrf2 = try #require(form.cookie(ReportCookie.signIn))
            let again = try await client.report(
                .post, "/report/login", cookies: [ReportCookie.signIn: csrf2, ReportCookie.session: first],
                form: ["token": audit, "csrf": csrf2])
            #expect(again.status == 303, "\(again)")
            let old = try await client.report(.get, "/report/campaigns", cookies: [ReportCookie.session: first])
            #expect(old.status == 303, "the earlier session no longer works")
        }
    }

    @Test("an audit token signs in: 303 to the campaigns, an HttpOnly SameSite=Strict session cookie; only its hash is stored")
    func signsIn() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let (session, reply) = try await client.signIn(token: f.tokens[.audit]!)
            #expect(reply.status == 303)
            #expect(reply.location == "/report/campaigns")
            #expect(reply.reportHeaderProblems == [])
            let cookie = try #require(session)
            let line = try #require(reply.setCookie(ReportCookie.session))
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/report", "Max-Age=28800"] {
                #expect(line.contains(attribute), "\(line)")
            }
            #expect(reply.cookie(ReportCookie.signIn) == "", "the pre-session cookie is cleared")
            let list = try await client.report(.get, "/report/campaigns", cookies: [ReportCookie.session: cookie])
            #expect(list.status == 200 && list.text.contains("<h1>Campaigns</h1>"), "\(list.status)")
            #expect(list.reportHeaderProblems == [])
            let stored = try f.db.rows("SELECT encode(id_hash, 'hex') AS hash FROM report_sessions")
            #expect(stored.count == 1)
            let digest = SHA256.hash(cookie).map { String(format: "%02x", $0) }.joined()
            #expect(try stored[0].decode("hash", as: String.self) == digest, "the SHA-256 of the cookie, never the cookie")
        }
    }

    @Test("next sends the browser back to a report page, never elsewhere")
    func nextIsLocal() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let page = "/report/campaigns/01937a2b-0000-7000-8000-00000000c0de"
            #expect(try await client.signIn(token: f.tokens[.audit]!, next: page).reply.location == page)
            for elsewhere in ["https://evil.example/", "//evil.example/report/x", "/v1/events", "/report/../v1/events"] {
                let (_, reply) = try await client.signIn(token: f.tokens[.audit]!, next: elsewhere)
                #expect(reply.status == 303 && reply.location == "/report/campaigns", "\(elsewhere): \(reply.location ?? "none")")
            }
            // A page asked for without a session sends the browser to sign in, and back.
            let asked = try await client.report(.get, page)
            #expect(asked.status == 303)
            #expect(asked.location == "/report/login?next=" + page)
            #expect(asked.reportHeaderProblems == [])
            let json = try await client.report(.get, page, accept: "application/json")
            #expect(json.status == 401 && json.code == "session_required" && json.isProblem, "\(json)")
        }
    }

    @Test("cookies are Secure off loopback, or when the setting says so")
    func secureCookies() async throws {
        #expect(APIConfiguration(host: "0.0.0.0", databaseURL: "").reportSecureCookies)
        #expect(!APIConfiguration(host: "127.0.0.1", databaseURL: "").reportSecureCookies)
        #expect(!APIConfiguration(host: "::1", databaseURL: "").reportSecureCookies)
        #expect(!APIConfiguration(host: "10.0.0.5", databaseURL: "", reportSecureCookies: false).reportSecureCookies)
        let f = try await APIFixture.make()
        var configuration = f.configuration
        configuration.reportSecureCookies = true
        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        let app = buildApplication(configuration: configuration, database: f.db.database, logger: logger)
        try await app.test(.router) { client in
            let form = try await client.report(.get, "/report/login")
            #expect(form.setCookie(ReportCookie.signIn)?.contains("; Secure") == true)
            let (_, reply) = try await client.signIn(token: f.tokens[.audit]!)
            #expect(reply.setCookie(ReportCookie.session)?.contains("; Secure") == true)
        }
    }
}

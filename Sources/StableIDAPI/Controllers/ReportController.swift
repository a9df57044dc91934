import AuditTrail
import CampaignReport
import CryptoPrimitives
import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import Logging
import UserMigration

/// The report pages (`/report/…`): a campaign's progress, findings and person lookup as HTML for
/// people with a browser. They sign in once with a token of scope `audit` through a form (the
/// token in a POST body, never a URL), then carry a session cookie (``ReportCookies``,
/// ``ReportSessionStore``); every form carries a CSRF token. Reads only, apart from the session.
struct ReportController {
    let authenticator: TokenAuthenticator
    let sessions: ReportSessionStore
    let campaigns: CampaignStore
    let loader: ReportPageLoader
    let people: ReportPersonLookup
    let bodyReader: RequestBodyReader
    let cookies: ReportCookies

    init(
        database: Database, authenticator: TokenAuthenticator, eventQuery: EventQuery, bodyReader: RequestBodyReader, secureCookies: Bool
    ) {
        self.authenticator = authenticator
        self.sessions = ReportSessionStore(database: database)
        self.campaigns = CampaignStore(database: database)
        self.loader = ReportPageLoader(database: database)
        self.people = ReportPersonLookup(identityMap: IdentityMapStore(database: database), events: eventQuery)
        self.bodyReader = bodyReader
        self.cookies = ReportCookies(secure: secureCookies)
    }

    /// `group` is `/report` with ``ReportPageMiddleware``; the pages past sign-in add
    /// ``ReportSessionMiddleware``.
    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("login", use: signInForm)
        group.post("login", use: signIn)
        let signedIn = group.group().add(middleware: ReportSessionMiddleware(sessions: sessions))
        signedIn.get("campaigns", use: list)
        signedIn.get("campaigns/{id}", use: page)
        signedIn.post("campaigns/{id}/lookup", use: lookup)
        signedIn.post("logout", use: signOut)
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let session = try Self.session(of: context)
        let page = CampaignListPage(campaigns: try await campaigns.list(), signOutToken: session.csrfToken(for: .signOut))
        return ReportResponse.html(.ok, page.html())
    }

    @Sendable func page(request: Request, context: AppRequestContext) async throws -> Response {
        let session = try Self.session(of: context)
        let campaign = try await namedCampaign(in: context)
        return ReportResponse.html(.ok, try await reportPage(of: campaign, for: session).html())
    }

    /// The page again, with the history of whoever the query names. POST, so an email address
    /// never sits in a URL, a proxy's log or the browser's history.
    @Sendable func lookup(request: Request, context: AppRequestContext) async throws -> Response {
        let session = try Self.session(of: context)
        let form = try ReportForm.decode(ReportForm.Lookup.self, from: try await bodyReader.collect(request))
        guard session.acceptsCSRF(form.csrf, for: .lookup) else { throw Problem.csrfFailed }
        let campaign = try await namedCampaign(in: context)
        var page = try await reportPage(of: campaign, for: session)
        page.lookup = try await people.lookup(form.query ?? "", in: campaign)
        return ReportResponse.html(.ok, page.html())
    }

    /// Ends the session here and in the database, then back to the sign-in form.
    @Sendable func signOut(request: Request, context: AppRequestContext) async throws -> Response {
        let session = try Self.session(of: context)
        let form = try ReportForm.decode(ReportForm.SignOut.self, from: try await bodyReader.collect(request))
        guard session.acceptsCSRF(form.csrf, for: .signOut) else { throw Problem.csrfFailed }
        if let cookie = ReportCookies.value(ReportCookies.session, in: request) { try await sessions.signOut(cookie) }
        context.logger.info("report sign-out", metadata: ["token": "\(session.token.name)"])
        var response = ReportResponse.redirect(to: ReportPaths.login)
        response.headers[values: .setCookie].append(cookies.clearSession())
        return response
    }

    func reportPage(of campaign: Campaign, for session: ReportSession) async throws -> ReportPage {
        var page = try await loader.page(for: campaign)
        page.forms = ReportForms(lookupToken: session.csrfToken(for: .lookup), signOutToken: session.csrfToken(for: .signOut))
        return page
    }

    /// The campaign the path names, by id (as the pages link it) or by name.
    func namedCampaign(in context: AppRequestContext) async throws -> Campaign {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 200, let campaign = try await campaigns.campaign(id) else { throw Problem.notFound("no such campaign") }
        return campaign
    }

    /// Set by ``ReportSessionMiddleware`` on every route registered behind it.
    static func session(of context: AppRequestContext) throws -> ReportSession {
        guard let session = context.reportSession else { throw Problem.internalError }
        return session
    }
}

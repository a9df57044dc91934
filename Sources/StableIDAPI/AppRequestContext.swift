public import Hummingbird
public import IdentityMap

/// Per-request state: Hummingbird's core storage plus the token that authenticated the request.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``ScopeMiddleware`` once the bearer token checked out, or by
    /// ``ReportSessionMiddleware`` to the token a report session signed in with.
    public var token: APIToken?
    /// Set by ``ReportSessionMiddleware`` on the report pages of a signed-in browser.
    var reportSession: ReportSession?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.token = nil
        self.reportSession = nil
    }

    /// Who the events of this request's writes name.
    var attribution: Attribution {
        Attribution(actor: .token(name: token?.name ?? "anonymous"), requestID: id)
    }
}

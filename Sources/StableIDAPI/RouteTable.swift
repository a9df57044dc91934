package import HTTPTypes

/// Every route the service serves, so that a known path asked with the wrong method answers
/// 405 with `Allow` (Hummingbird's router only knows "no route": 404). A test keeps this table
/// equal to the routes the router registers and to openapi.yaml.
package enum RouteTable {
    package static let routes: [(method: HTTPRequest.Method, template: String)] = [
        (.get, "/healthz"), (.get, "/readyz"), (.get, "/metrics"),
        (.get, "/v1/resolve"), (.post, "/v1/resolve"), (.post, "/v1/resolve/token"),
        (.get, "/v1/users"), (.post, "/v1/users"), (.get, "/v1/users/{id}"),
        (.post, "/v1/users/{id}/identities"), (.delete, "/v1/users/{id}/identities/{pool}/{sub}"),
        (.post, "/v1/users/{id}/merge"), (.post, "/v1/users/{id}/unmerge"), (.get, "/v1/users/{id}/events"),
        (.delete, "/v1/users/{id}/personal-data"),
        (.get, "/v1/events"), (.get, "/v1/changes"),
        (.get, "/v1/pools"), (.post, "/v1/pools"), (.patch, "/v1/pools/{id}"),
        (.get, "/v1/tokens"), (.post, "/v1/tokens"), (.delete, "/v1/tokens/{name}"),
        (.get, "/v1/webhooks"), (.post, "/v1/webhooks"), (.delete, "/v1/webhooks/{id}"),
        (.post, "/v1/webhooks/{id}/enable"), (.post, "/v1/webhooks/{id}/disable"),
        (.get, "/v1/campaigns"), (.get, "/v1/campaigns/{id}"), (.get, "/v1/campaigns/{id}/progress"),
        (.get, "/v1/reconciliation/runs"), (.get, "/v1/reconciliation/findings"), (.get, "/v1/reconciliation/findings/{id}"),
        (.post, "/v1/cognito/triggers"),
        (.get, "/report/login"), (.post, "/report/login"), (.get, "/report/campaigns"), (.get, "/report/campaigns/{id}"),
        (.post, "/report/campaigns/{id}/lookup"), (.post, "/report/logout"),
    ]

    /// The methods served for `path` (a request path without its query), empty when none is.
    package static func allowedMethods(for path: Substring) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return routes.filter { route in
            let template = route.template.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == segments.count else { return false }
            return zip(template, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix("{") ? !segment.isEmpty : pattern == segment
            }
        }.map(\.method)
    }
}

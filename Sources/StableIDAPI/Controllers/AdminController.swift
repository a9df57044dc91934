import Hummingbird
import IdentityMap

/// Pools and tokens. Scope `admin`.
struct AdminController {
    let services: APIServices
    /// Told of each token made here, so a negative cache entry for its hash cannot outlive it.
    let authenticator: TokenAuthenticator

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("pools", use: listPools)
        group.post("pools", use: addPool)
        group.get("tokens", use: listTokens)
        group.post("tokens", use: createToken)
        group.delete("tokens/{name}", use: revokeToken)
    }

    @Sendable func listPools(request: Request, context: AppRequestContext) async throws -> Response {
        try APIServices.json(.ok, PoolsJSON(pools: try await services.pools.list().map(PoolJSON.init)))
    }

    @Sendable func addPool(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await services.collectBody(request)
        let input = try services.decode(PoolRequest.self, from: body)
        let id = try APIServices.poolID(input.id, field: "id")
        let write = services.pools.add(
            id: id, region: input.region, name: input.name, issuer: input.issuer,
            access: PoolAccess(roleARN: input.roleARN, externalID: input.externalID, profile: input.awsProfile),
            attribution: context.attribution)
        return try await services.perform(write, request: request, body: body, context: context) { pool in
            try APIServices.recorded(.created, PoolJSON(pool))
        }
    }

    @Sendable func listTokens(request: Request, context: AppRequestContext) async throws -> Response {
        let includeRevoked = try APIServices.boolParameter(request.uri.queryParameters.get("include_revoked"), name: "include_revoked")
        let tokens = try await services.tokens.list(includeRevoked: includeRevoked)
        return try APIServices.json(.ok, TokensJSON(tokens: tokens.map { TokenJSON($0) }))
    }

    @Sendable func createToken(request: Request, context: AppRequestContext) async throws -> Response {
        guard request.headers[APIServices.idempotencyHeader] == nil else {
            // Replaying would mean storing the secret; it exists only in this one answer.
            throw Problem.invalidRequest("Idempotency-Key is not accepted when creating tokens: the secret is never stored")
        }
        let body = try await services.collectBody(request)
        let input = try services.decode(TokenRequest.self, from: body)
        var scopes = Set<Scope>()
        for name in input.scopes {
            guard let scope = Scope(rawValue: name) else {
                throw Problem.invalidRequest("unknown scope '\(name)'; use \(Scope.allNames)")
            }
            scopes.insert(scope)
        }
        var pools: Set<PoolID>?
        if let names = input.pools {
            var bound = Set<PoolID>()
            for (index, name) in names.enumerated() {
                bound.insert(try APIServices.poolID(name, field: "pools[\(index)]"))
            }
            pools = bound
        }
        let (token, secret) = try await services.tokens.create(
            name: input.name, scopes: scopes, pools: pools, attribution: context.attribution
        )
        .run(on: services.database)
        authenticator.tokenCreated(secret)
        return try APIServices.json(.created, TokenJSON(token, secret: secret))
    }

    @Sendable func revokeToken(request: Request, context: AppRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let token = try await services.tokens.revoke(nameOrID: name, attribution: context.attribution).run(on: services.database)
        return try APIServices.json(.ok, TokenJSON(token))
    }
}

import Hummingbird
import IdentityMap

/// Pools and tokens. Scope `admin`.
struct AdminController {
    let pools: PoolStore
    let tokens: TokenStore
    /// Where writes run: pools with their idempotency record when the request has a key, tokens
    /// without one (their secret is never stored).
    let database: Database
    let bodyReader: RequestBodyReader
    /// Told of each token made here, so a negative cache entry for its hash cannot outlive it.
    let authenticator: TokenAuthenticator
    /// Told of each pool write here, so token lookups see a new pool or allow-list at once.
    let issuers: TokenIssuers

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("pools", use: listPools)
        group.post("pools", use: addPool)
        group.patch("pools/{id}", use: updatePool)
        group.get("tokens", use: listTokens)
        group.post("tokens", use: createToken)
        group.delete("tokens/{name}", use: revokeToken)
    }

    @Sendable func listPools(request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(.ok, PoolsJSON(pools: try await pools.list().map(PoolJSON.init)))
    }

    @Sendable func addPool(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        let input = try bodyReader.decode(PoolRequest.self, from: body)
        let id = try RequestValue.poolID(input.id, field: "id")
        let write = pools.add(
            id: id, region: input.region, name: input.name, issuer: input.issuer,
            access: PoolAccess(roleARN: input.roleARN, externalID: input.externalID, profile: input.awsProfile),
            tokenClientIDs: input.tokenClientIDs, attribution: context.attribution)
        defer { issuers.invalidate() }
        return try await write.response(to: request, body: body, context: context, on: database) { pool in
            try JSONResponse.recorded(.created, PoolJSON(pool))
        }
    }

    /// `PATCH /v1/pools/{id}`: the pool's allow-list of app clients for token lookups, set or
    /// lifted (the one thing about a registered pool that changes; its id and issuer never do).
    @Sendable func updatePool(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.poolID(try context.parameters.require("id"), field: "id")
        let body = try await bodyReader.collect(request)
        let clients = try bodyReader.decode(PoolUpdateRequest.self, from: body).tokenClients()
        let write = pools.setTokenClients(clients, of: id, attribution: context.attribution)
        defer { issuers.invalidate() }
        do {
            return try await write.response(to: request, body: body, context: context, on: database) { pool in
                try JSONResponse.recorded(.ok, PoolJSON(pool))
            }
        } catch IdentityMapError.unknownPool(_) {
            throw Problem.notFound("pool \(id.rawValue) is not registered")
        }
    }

    @Sendable func listTokens(request: Request, context: AppRequestContext) async throws -> Response {
        let includeRevoked = try RequestValue.bool(request.uri.queryParameters.get("include_revoked"), field: "include_revoked")
        let tokens = try await self.tokens.list(includeRevoked: includeRevoked)
        return try JSONResponse.make(.ok, TokensJSON(tokens: tokens.map { TokenJSON($0) }))
    }

    @Sendable func createToken(request: Request, context: AppRequestContext) async throws -> Response {
        guard request.headers[.idempotencyKey] == nil else {
            // Replaying would mean storing the secret; it exists only in this one answer.
            throw Problem.invalidRequest("Idempotency-Key is not accepted when creating tokens: the secret is never stored")
        }
        let body = try await bodyReader.collect(request)
        let input = try bodyReader.decode(TokenRequest.self, from: body)
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
                bound.insert(try RequestValue.poolID(name, field: "pools[\(index)]"))
            }
            pools = bound
        }
        let (token, secret) = try await tokens.create(
            name: input.name, scopes: scopes, pools: pools, attribution: context.attribution
        )
        .run(on: database)
        authenticator.tokenCreated(secret)
        return try JSONResponse.make(.created, TokenJSON(token, secret: secret))
    }

    @Sendable func revokeToken(request: Request, context: AppRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let token = try await tokens.revoke(nameOrID: name, attribution: context.attribution).run(on: database)
        return try JSONResponse.make(.ok, TokenJSON(token))
    }
}

import Hummingbird
import IdentityMap
import NIOCore

/// The hot path: `(pool, sub)` or `(iss, sub)` → stable user ID. Scope `resolve`.
struct ResolveController {
    let services: APIServices
    let coalescer: ResolveCoalescer

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("resolve", use: resolve)
        group.post("resolve", use: resolveBatch)
    }

    @Sendable func resolve(request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let reference = try Self.reference(pool: query.get("pool"), iss: query.get("iss"), sub: query.get("sub"))
        guard let resolution = try await coalescer.resolve(reference) else {
            throw Problem.notFound("no user has this identity")
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.resolution(resolution)))
        )
    }

    @Sendable func resolveBatch(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await services.collectBody(request)
        let batch = try services.decode(BatchResolveRequest.self, from: body)
        guard batch.items.count <= IdentityMapStore.maxBatch else {
            throw Problem(
                .unprocessableContent, code: "batch_too_large", title: "Too many items",
                detail: "at most \(IdentityMapStore.maxBatch) items per request"
            )
        }
        // A malformed item is answered null with an error entry; it never fails the others.
        var references: [IdentityReference] = []
        var positions: [Int] = []
        var errors: [BatchResolveResponse.ItemError] = []
        for (index, item) in batch.items.enumerated() {
            do {
                references.append(try Self.reference(pool: item.pool, iss: item.iss, sub: item.sub, path: "items[\(index)]."))
                positions.append(index)
            } catch let problem as Problem {
                errors.append(.init(index: index, code: problem.code, detail: problem.detail ?? problem.title))
            }
        }
        let found = try await services.identityMap.resolve(batch: references)
        var results = [ResolutionJSON?](repeating: nil, count: batch.items.count)
        for (position, resolution) in zip(positions, found) { results[position] = resolution.map(ResolutionJSON.init) }
        return try APIServices.json(.ok, BatchResolveResponse(results: results, errors: errors))
    }

    static func reference(pool: String?, iss: String?, sub: String?, path: String = "") throws -> IdentityReference {
        guard let text = sub, !text.isEmpty else {
            throw Problem.invalidRequest("\(path)sub is required")
        }
        guard let sub = CognitoSub.canonical(text) else {
            throw Problem.from(IdentityMapError.invalidSub(field: path + "sub"))
        }
        switch (pool, iss) {
        case (let pool?, nil):
            return .pool(try APIServices.poolID(pool, field: "\(path)pool"), sub: sub)
        case (nil, let iss?):
            guard iss.hasPrefix("https://") || iss.hasPrefix("http://"), iss.utf8.count <= 512,
                iss.utf8.allSatisfy({ (0x21...0x7e).contains($0) })
            else {
                throw Problem.invalidRequest("\(path)iss must be the issuer URL of a pool")
            }
            return .issuer(iss, sub: sub)
        case (nil, nil), (.some, .some):
            // Exactly one names the pool (together they could disagree): a rule the schema of
            // query parameters cannot state, so it is a 422 rather than a 400.
            throw Problem(
                .unprocessableContent, code: "invalid_reference", title: "Give pool or iss",
                detail: "\(path)give exactly one of pool and iss"
            )
        }
    }
}

import Hummingbird
import NIOCore
import IdentityMap

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
        let references = try batch.items.enumerated().map { index, item in
            try Self.reference(pool: item.pool, iss: item.iss, sub: item.sub, path: "items[\(index)].")
        }
        let results = try await services.identityMap.resolve(batch: references)
        return try APIServices.json(.ok, BatchResolveResponse(results: results.map { $0.map(ResolutionJSON.init) }))
    }

    static func reference(pool: String?, iss: String?, sub: String?, path: String = "") throws -> IdentityReference {
        guard let sub, !sub.isEmpty, sub.count <= 255 else {
            throw Problem.invalidRequest("\(path)sub is required (1 to 255 characters)")
        }
        switch (pool, iss) {
        case (let pool?, nil):
            return .pool(try APIServices.poolID(pool, field: "\(path)pool"), sub: sub)
        case (nil, let iss?):
            guard iss.hasPrefix("https://") || iss.hasPrefix("http://"), iss.count <= 512 else {
                throw Problem.invalidRequest("\(path)iss must be the issuer URL of a pool")
            }
            return .issuer(iss, sub: sub)
        default:
            throw Problem.invalidRequest("\(path)give exactly one of pool or iss")
        }
    }
}

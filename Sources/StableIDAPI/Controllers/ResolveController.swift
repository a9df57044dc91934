import AuditTrail
import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import LookupCache
import NIOCore

/// The hot path: `(pool, sub)` or `(iss, sub)` → stable user ID. Scope `resolve`.
struct ResolveController {
    /// Strong reads and batches; a single eventual lookup that memory cannot answer goes through
    /// `coalescer`.
    let identityMap: IdentityMapStore
    /// `?at=T`: who held the identity at T, from the events.
    let pointInTime: PointInTime
    let bodyReader: RequestBodyReader
    /// The in-process read model; nil (off) or bypassed with `consistency=strong`, every lookup
    /// asks PostgreSQL.
    let cache: LookupCache?
    let coalescer: ResolveCoalescer
    /// Batches that go to PostgreSQL while the read model is not live pass through this bound.
    let coldBatches: ColdBatchAdmission

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("resolve", use: resolve)
        group.post("resolve", use: resolveBatch)
    }

    @Sendable func resolve(request: Request, context: AppRequestContext) async throws -> Response {
        let query = ResolveQuery.parse(request)
        if let at = try PointInTimeRequest.time(query.at, context: context) {
            return try await resolveAt(query, at: at, headers: request.headers)
        }
        let reference = try Self.reference(pool: query.pool, iss: query.iss, sub: query.sub)
        let answer: ByteBuffer?
        if try Self.isStrong(query.consistency, headers: request.headers) {
            answer = try await identityMap.resolveStrongly(batch: [reference])[0].map { ByteBuffer(bytes: JSONWriter.resolution($0)) }
        } else {
            // From memory, written straight from the stored entry into the response buffer, with
            // no `Resolution` or `String` per field: the same bytes as the general path
            // (JSONWriterTests and LookupCacheRouteTests compare them).
            answer = try await lookUp(
                reference,
                fromMemory: { stored in
                    var buffer = ByteBuffer()
                    buffer.writeAnswer(stored)
                    return buffer
                },
                fromDatabase: { ByteBuffer(bytes: JSONWriter.resolution($0)) }
            )
        }
        guard let answer else {
            throw Problem.notFound("no user has this identity")
        }
        return Self.jsonResponse(answer)
    }

    /// One eventual lookup, the way every single lookup is made (this route's and the token
    /// lookup's): from the `LookupCache` when it is live and holds the identity — `fromMemory`
    /// makes the answer under the shard's lock, so it must be short and never block — else
    /// through the coalescer, whose `Resolution` `fromDatabase` makes the answer of. Nil when no
    /// user has the identity.
    func lookUp<Answer>(
        _ reference: IdentityReference, fromMemory: (StoredAnswer) -> Answer, fromDatabase: (Resolution) -> Answer
    ) async throws -> Answer? {
        if let cache, let answer = cache.withStoredAnswer(for: reference, fromMemory) { return answer }
        return try await coalescer.resolve(reference).map(fromDatabase)
    }

    /// `?at=T`: from the events on the reader, never from memory, which holds only the present.
    func resolveAt(_ query: ResolveQuery, at: Date, headers: HTTPFields) async throws -> Response {
        let reference = try Self.reference(pool: query.pool, iss: query.iss, sub: query.sub)
        // Every answer at T comes from the reader, but a malformed choice is refused as on any lookup.
        _ = try Self.isStrong(query.consistency, headers: headers)
        guard let identity = try await pointInTime.resolve(reference, at: at) else {
            throw PointInTimeRequest.unknown("no identity with this sub was linked", at: at)
        }
        return try JSONResponse.make(.ok, ResolutionAtJSON(identity, at: at))
    }

    static func jsonResponse(_ body: [UInt8]) -> Response {
        jsonResponse(ByteBuffer(bytes: body))
    }

    static func jsonResponse(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    @Sendable func resolveBatch(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        let batch = try await BatchResolveRequest.parseConcurrently(body)
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
        references.reserveCapacity(batch.items.count)
        positions.reserveCapacity(batch.items.count)
        // A batch names one pool or a few: each is checked once, not once per item.
        var checkedPools: [String: PoolID] = [:]
        for (index, item) in batch.items.enumerated() {
            do {
                if let pool = item.pool, item.iss == nil, let poolID = checkedPools[pool], let sub = CognitoSub.canonical(item.sub) {
                    references.append(.pool(poolID, sub: sub))
                } else {
                    let reference = try Self.reference(
                        pool: item.pool?[...], iss: item.iss?[...], sub: item.sub[...], path: "items[\(index)]."
                    )
                    if case .pool(let poolID, _) = reference, let pool = item.pool { checkedPools[pool] = poolID }
                    references.append(reference)
                }
                positions.append(index)
            } catch let problem as Problem {
                errors.append(.init(index: index, code: problem.code, detail: problem.detail ?? problem.title))
            }
        }
        let identityMap = self.identityMap
        let strong = try Self.isStrong(ResolveQuery.parse(request).consistency, headers: request.headers)
        if !strong, errors.isEmpty, let cache, let body = await Self.answersFromMemory(cache, references) {
            return Self.jsonResponse(body)
        }
        let found: [Resolution?]
        if let cache, cache.state != .live {
            found = try await coldBatches.run {
                strong ? try await identityMap.resolveStrongly(batch: references) : try await identityMap.resolve(batch: references)
            }
        } else if strong {
            found = try await identityMap.resolveStrongly(batch: references)
        } else if let cache {
            found = try await cache.resolve(batch: references) { try await identityMap.resolve(batch: $0) }
        } else {
            found = try await identityMap.resolve(batch: references)
        }
        var results = [Resolution?](repeating: nil, count: batch.items.count)
        for (position, resolution) in zip(positions, found) { results[position] = resolution }
        return Self.jsonResponse(await JSONWriter.batchConcurrently(results, errors: errors))
    }

    /// The batch answer written straight from the lookup cache's memory (no `Resolution` per
    /// item), a large batch's halves on two cores at once; nil when some item is not in memory —
    /// then the general path answers, asking PostgreSQL for what is missing. The same bytes as
    /// ``JSONWriter/batch(_:errors:)`` (JSONWriterTests and LookupCacheRouteTests compare them).
    static func answersFromMemory(_ cache: LookupCache, _ references: [IdentityReference]) async -> ByteBuffer? {
        // Each half straight into a buffer of its own through a raw cursor (``AnswerCursor``).
        @Sendable func write(_ slice: ArraySlice<IdentityReference>, into buffer: inout ByteBuffer) -> Bool {
            var first = true
            return cache.withStoredAnswers(slice) { answer in
                buffer.writeAnswer(answer, separator: first ? nil : ",")
                first = false
            }
        }
        var body = ByteBuffer()
        body.reserveCapacity(32 + references.count * 360)
        body.writeString(#"{"results":["#)
        if references.count < 256 {
            guard write(references[...], into: &body) else { return nil }
        } else {
            let middle = references.count / 2
            async let secondHalf: ByteBuffer? = {
                var buffer = ByteBuffer()
                buffer.reserveCapacity((references.count - middle) * 360)
                return write(references[middle...], into: &buffer) ? buffer : nil
            }()
            guard write(references[..<middle], into: &body), var secondHalf = await secondHalf else { return nil }
            body.writeString(",")
            body.writeBuffer(&secondHalf)
        }
        body.writeString("]}")
        cache.countServedFromMemory(references.count)
        return body
    }

    /// `?consistency=strong` (or the header `StableID-Consistency: strong`) reads the primary,
    /// for a caller that must see a change committed a moment ago through another server;
    /// `eventual` (the default) answers from memory or the reader. The parameter wins when both
    /// are given, but each one given must be valid: a bad header is a 400 even then.
    static func isStrong(_ parameter: Substring?, headers: HTTPFields) throws -> Bool {
        let header = try consistency(headers[consistencyHeader]?[...])
        return try consistency(parameter) ?? header ?? false
    }

    /// Whether `text` asks for `strong` reads; nil when it is absent.
    private static func consistency(_ text: Substring?) throws -> Bool? {
        switch text {
        case nil: return nil
        case "eventual": return false
        case "strong": return true
        case .some: throw Problem.invalidRequest("consistency must be strong or eventual")
        }
    }

    static let consistencyHeader = HTTPField.Name("StableID-Consistency")!

    static func reference(pool: Substring?, iss: Substring?, sub: Substring?, path: String = "") throws -> IdentityReference {
        guard let text = sub, !text.isEmpty else {
            throw Problem.invalidRequest("\(path)sub is required")
        }
        guard let sub = CognitoSub.canonical(text) else {
            throw Problem.from(IdentityMapError.invalidSub(field: path + "sub"))
        }
        switch (pool, iss) {
        case (let pool?, nil):
            return .pool(try RequestValue.poolID(String(pool), field: "\(path)pool"), sub: sub)
        case (nil, let iss?):
            guard iss.hasPrefix("https://") || iss.hasPrefix("http://"), iss.utf8.count <= 512,
                iss.utf8.allSatisfy({ (0x21...0x7e).contains($0) })
            else {
                throw Problem.invalidRequest("\(path)iss must be the issuer URL of a pool")
            }
            return .issuer(String(iss), sub: sub)
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

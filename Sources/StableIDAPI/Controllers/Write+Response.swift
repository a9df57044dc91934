import CryptoPrimitives
import HTTPTypes
import Hummingbird
import IdentityMap
import NIOCore

extension Write {
    /// Runs the write for `request` and answers what `respond` makes of its value. With an
    /// `Idempotency-Key` the first answer is stored with the change and replayed to retries (same
    /// key and same request), and a reused key with another request is refused. `body` is the
    /// collected request body: with the method and path it fingerprints the request, so a retry
    /// is told from another request under the same key.
    func response(
        to request: Request,
        body: ByteBuffer,
        context: AppRequestContext,
        on database: Database,
        respond: @escaping @Sendable (Value) throws -> RecordedResponse
    ) async throws -> Response {
        let outcome: IdempotentOutcome
        if let key = request.headers[.idempotencyKey], let token = context.token {
            var material = Array("\(request.method.rawValue) \(request.uri.path)\n".utf8)
            material.append(contentsOf: body.readableBytesView)
            let idempotencyKey: IdempotencyKey
            do {
                idempotencyKey = try IdempotencyKey(tokenID: token.id, key: key, requestFingerprint: SHA256.hash(material))
            } catch {
                throw Problem.from(error)
            }
            outcome = try await run(on: database, idempotencyKey: idempotencyKey, respond: respond)
        } else {
            outcome = .executed(try respond(try await run(on: database)))
        }
        let recorded = outcome.response
        var headers: HTTPFields = [.contentType: "application/json"]
        if case .replayed = outcome { headers[.idempotentReplayed] = "true" }
        return Response(
            status: HTTPResponse.Status(code: recorded.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: recorded.body))
        )
    }
}

import Cognito
import Foundation
import Hummingbird
import IdentityMap
import LookupCache
import NIOCore
import UserMigration

/// `POST /v1/cognito/triggers` (scope `trigger`): a Cognito Lambda trigger event exactly as
/// Cognito sends it to a function, answered with the event and its `response` filled in, so the
/// Lambda function is a forwarder (deploy/lambda/forwarder.py). A token bound to pools
/// (`token create --pool`) is refused with 403 `pool_not_allowed` for any other `userPoolId`.
///
/// Pre token generation for a linked sub — nearly every event — is answered from the body's bytes
/// and the lookup cache (`TriggerService.answerLinkedTokenGeneration`), at lookup speed; every
/// other event, and a token event memory cannot answer, is parsed whole and handled by
/// `TriggerService.handle`.
struct TriggerController {
    let bodyReader: RequestBodyReader
    let triggers: TriggerService
    /// The in-process read model; nil (off): every event takes the general path.
    let cache: LookupCache?

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("cognito/triggers", use: handle)
    }

    @Sendable func handle(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        if let cache, let token = context.token, let answer = Self.answerFromMemory(body, triggers: triggers, cache: cache, token: token) {
            return Self.jsonResponse(ByteBuffer(bytes: answer))
        }
        // The body may carry a password: it is parsed once here, and only the parsed event, whose
        // password is redacted from every description, travels further.
        let event = try CognitoTriggerEvent(data: Data(body.readableBytesView))
        guard let token = context.token else { throw Problem.unauthorized("send Authorization: Bearer <token>") }
        // A token bound to pools answers only for them, before any lookup or Cognito call: a
        // forwarder token leaked from one pool's Lambda cannot post events for another pool.
        guard token.allowsTriggerEvents(forPool: event.userPoolID) else { throw Problem.poolNotAllowed(event.userPoolID) }
        let attribution = Attribution(actor: .trigger(source: event.triggerSource, token: token.name), requestID: context.id)
        let answer = try await triggers.handle(event, attribution: attribution)
        return Self.jsonResponse(ByteBuffer(bytes: answer))
    }

    /// A pre token generation event for a sub the cache holds, answered from memory (counted as a
    /// lookup hit); nil for anything else (a miss, a cache that is not live, another trigger, an
    /// event the fast path refuses): then the general path answers.
    static func answerFromMemory(_ body: ByteBuffer, triggers: TriggerService, cache: LookupCache, token: APIToken) -> [UInt8]? {
        body.withUnsafeReadableBytes { bytes in
            triggers.answerLinkedTokenGeneration(bytes, allowedPool: { token.allowsTriggerEvents(forPool: $0) }) { reference in
                cache.withStoredAnswer(for: reference) { $0.userID }
            }
        }
    }

    static func jsonResponse(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
}

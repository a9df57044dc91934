import Cognito
import Foundation
import Hummingbird
import IdentityMap
import NIOCore
import UserMigration

/// `POST /v1/cognito/triggers` (scope `trigger`): a Cognito Lambda trigger event exactly as
/// Cognito sends it to a function, answered with the event and its `response` filled in, so the
/// Lambda function is a forwarder (deploy/lambda/forwarder.py). A token bound to pools
/// (`token create --pool`) is refused with 403 `pool_not_allowed` for any other `userPoolId`.
struct TriggerController {
    let bodyReader: RequestBodyReader
    let triggers: TriggerService

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("cognito/triggers", use: handle)
    }

    @Sendable func handle(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        // The body may carry a password: it is parsed once here, and only the parsed event, whose
        // password is redacted from every description, travels further.
        let event = try CognitoTriggerEvent(data: Data(body.readableBytesView))
        guard let token = context.token else { throw Problem.unauthorized("send Authorization: Bearer <token>") }
        // A token bound to pools answers only for them, before any lookup or Cognito call: a
        // forwarder token leaked from one pool's Lambda cannot post events for another pool.
        guard token.allowsTriggerEvents(forPool: event.userPoolID) else { throw Problem.poolNotAllowed(event.userPoolID) }
        let attribution = Attribution(actor: .trigger(source: event.triggerSource, token: token.name), requestID: context.id)
        let answer = try await triggers.handle(event, attribution: attribution)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer)))
    }
}

import Cognito
import Foundation
import Hummingbird
import IdentityMap
import Migration
import NIOCore

/// `POST /v1/cognito/triggers` (scope `trigger`): a Cognito Lambda trigger event exactly as
/// Cognito sends it to a function, answered with the event and its `response` filled in, so the
/// Lambda function is a forwarder (deploy/lambda/forwarder.py).
struct TriggerController {
    let services: APIServices
    let triggers: TriggerService

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("cognito/triggers", use: handle)
    }

    @Sendable func handle(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await services.collectBody(request)
        // The body may carry a password: it is parsed once here, and only the parsed event, whose
        // password is redacted from every description, travels further.
        let event = try CognitoTriggerEvent(data: Data(body.readableBytesView))
        let attribution = Attribution(actor: .trigger(source: event.triggerSource), requestID: context.id)
        let answer = try await triggers.handle(event, attribution: attribution)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer)))
    }
}

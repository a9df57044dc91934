import Hummingbird
import IdentityMap
import Webhooks

/// Webhook endpoints: `GET`/`POST /v1/webhooks`, `DELETE /v1/webhooks/{id}`,
/// `POST /v1/webhooks/{id}/enable` and `/disable`. Scope `admin`. The secret is taken once and
/// never answered; URLs are answered redacted. Each change is an event (`webhook_*`).
struct WebhookController {
    let webhooks: WebhookStore
    let database: Database
    let bodyReader: RequestBodyReader

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("webhooks", use: list)
        group.post("webhooks", use: add)
        group.delete("webhooks/{id}", use: remove)
        group.post("webhooks/{id}/enable", use: enable)
        group.post("webhooks/{id}/disable", use: disable)
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(.ok, WebhooksJSON(webhooks: try await webhooks.list().map(WebhookJSON.init)))
    }

    @Sendable func add(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        let input = try bodyReader.decode(WebhookRequest.self, from: body)
        let secret = try WebhookSecret(parsing: input.secret)
        let write = try await webhooks.add(
            url: input.url, secret: secret, kinds: input.kinds ?? [], allowPrivate: input.allowPrivate ?? false,
            note: input.description, attribution: context.attribution)
        return try await write.response(to: request, body: body, context: context, on: database) { webhook in
            try JSONResponse.recorded(.created, WebhookJSON(webhook))
        }
    }

    @Sendable func remove(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(try context.parameters.require("id"), field: "id")
        let webhook = try await webhooks.remove(id, attribution: context.attribution).run(on: database)
        return try JSONResponse.make(.ok, WebhookJSON(webhook))
    }

    /// Optional body `{"from_end": true}`: resume from the end of the feed instead of the cursor.
    @Sendable func enable(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(try context.parameters.require("id"), field: "id")
        let body = try await bodyReader.collect(request)
        var fromEnd = false
        if body.readableBytes > 0 { fromEnd = try bodyReader.decode(WebhookEnableRequest.self, from: body).fromEnd ?? false }
        let webhook = try await webhooks.enable(id, fromEnd: fromEnd, attribution: context.attribution).run(on: database)
        return try JSONResponse.make(.ok, WebhookJSON(webhook))
    }

    @Sendable func disable(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(try context.parameters.require("id"), field: "id")
        let webhook = try await webhooks.disable(id, attribution: context.attribution).run(on: database)
        return try JSONResponse.make(.ok, WebhookJSON(webhook))
    }
}

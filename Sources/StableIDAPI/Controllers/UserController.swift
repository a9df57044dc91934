import AuditTrail
import Foundation
import Hummingbird
import IdentityMap
import Logging

/// Users and their identities: reads need `resolve`, writes need `write`, history needs `audit`.
struct UserController {
    let identityMap: IdentityMapStore
    /// A user's history (`GET /v1/users/{id}/events`).
    let eventQuery: EventQuery
    /// `GET /v1/users/{id}?at=T`: the user as the events left it at T.
    let pointInTime: PointInTime
    /// Where writes run, each with its idempotency record when the request has a key.
    let database: Database
    let bodyReader: RequestBodyReader

    func registerReads(on group: RouterGroup<AppRequestContext>) {
        group.get("users/{id}", use: get)
        group.get("users", use: findByEmail)
    }

    func registerHistory(on group: RouterGroup<AppRequestContext>) {
        group.get("users/{id}/events", use: events)
    }

    func registerWrites(on group: RouterGroup<AppRequestContext>) {
        group.post("users", use: create)
        group.post("users/{id}/identities", use: link)
        group.delete("users/{id}/identities/{pool}/{sub}", use: unlink)
    }

    /// Merging and unmerging people: scope `merge`, apart from `write`.
    func registerMerges(on group: RouterGroup<AppRequestContext>) {
        group.post("users/{id}/merge", use: merge)
        group.post("users/{id}/unmerge", use: unmerge)
    }

    @Sendable func get(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        if let at = try PointInTimeRequest.time(request.uri.queryParameters["at"], context: context) {
            guard let user = try await pointInTime.user(id: id, at: at) else {
                throw PointInTimeRequest.unknown("no user with this ID had been created", at: at)
            }
            return try JSONResponse.make(.ok, UserAtJSON(user, at: at))
        }
        guard let user = try await identityMap.user(id) else { throw Problem.notFound("no such user") }
        return try JSONResponse.make(.ok, UserJSON(user))
    }

    @Sendable func findByEmail(request: Request, context: AppRequestContext) async throws -> Response {
        guard let email = request.uri.queryParameters.get("email"), !email.isEmpty else {
            throw Problem.invalidRequest("give ?email=")
        }
        guard EmailAddress.normalize(email) != nil else { throw Problem.invalidRequest("email is not an email address") }
        let users = try await identityMap.users(email: email)
        return try JSONResponse.make(.ok, UsersJSON(users: users.map(UserJSON.init)))
    }

    @Sendable func events(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let query = request.uri.queryParameters
        let cursor = try RequestValue.cursor(query)
        let limit = try RequestValue.limit(query, maximum: EventQuery.maxPage, default: 100)
        guard let events = try await eventQuery.history(of: id, after: cursor, limit: limit) else {
            throw Problem.notFound("no such user")
        }
        let next = events.count == limit ? events.last.map { String($0.id) } : nil
        return try JSONResponse.make(.ok, EventPageJSON(events: events.map { ExportedEvent($0, withChain: false) }, nextCursor: next))
    }

    @Sendable func create(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await bodyReader.collect(request)
        let input = try bodyReader.decode(CreateUserRequest.self, from: body)
        let id = try input.userID.map { try RequestValue.uuid($0, field: "user_id") }
        let identities = try (input.identities ?? []).enumerated().map { index, identity in
            try identity.validated(at: "identities[\(index)].")
        }
        let write = identityMap.createUser(id: id, identities: identities, attribution: context.attribution)
        let response = try await write.response(to: request, body: body, context: context, on: database) { user in
            try JSONResponse.recorded(.created, UserJSON(user))
        }
        context.logger.info("user created", metadata: ["status": "\(response.status.code)"])
        return response
    }

    @Sendable func link(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let body = try await bodyReader.collect(request)
        let identity = try bodyReader.decode(IdentityRequest.self, from: body).validated()
        let write = identityMap.link(identity, to: id, attribution: context.attribution)
        return try await write.response(to: request, body: body, context: context, on: database) { result in
            try JSONResponse.recorded(result.created ? .created : .ok, UserJSON(result.user))
        }
    }

    @Sendable func unlink(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let pool = try RequestValue.poolID(context.parameters.require("pool"))
        guard let sub = CognitoSub.canonical(try context.parameters.require("sub")) else {
            throw Problem.from(IdentityMapError.invalidSub(field: "sub"))
        }
        let body = try await bodyReader.collect(request)
        let write = identityMap.unlink(pool: pool, sub: sub, from: id, attribution: context.attribution)
        return try await write.response(to: request, body: body, context: context, on: database) { user in
            try JSONResponse.recorded(.ok, UserJSON(user))
        }
    }

    @Sendable func merge(request: Request, context: AppRequestContext) async throws -> Response {
        let survivor = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let body = try await bodyReader.collect(request)
        let from = try RequestValue.uuid(bodyReader.decode(MergeRequest.self, from: body).from, field: "from")
        let write = identityMap.merge(from, into: survivor, attribution: context.attribution)
        return try await write.response(to: request, body: body, context: context, on: database) { user in
            try JSONResponse.recorded(.ok, UserJSON(user))
        }
    }

    /// `POST /v1/users/{survivor}/unmerge {"from": id}`: answers the restored `from` user.
    @Sendable func unmerge(request: Request, context: AppRequestContext) async throws -> Response {
        let survivor = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let body = try await bodyReader.collect(request)
        let from = try RequestValue.uuid(bodyReader.decode(MergeRequest.self, from: body).from, field: "from")
        let write = identityMap.unmerge(from, from: survivor, attribution: context.attribution)
        return try await write.response(to: request, body: body, context: context, on: database) { user in
            try JSONResponse.recorded(.ok, UserJSON(user))
        }
    }
}

import AuditTrail
import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import NIOCore
import Support

/// Auditors' access to the trail: `GET /v1/events` (scope `audit`) with filters and keyset
/// pages, or a streamed NDJSON/CSV export (`Accept` or `?format=`); erasure under `admin`.
struct EventController {
    let query: EventQuery
    let erasure: Erasure

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("events", use: list)
    }

    func registerAdmin(on group: RouterGroup<AppRequestContext>) {
        group.delete("users/{id}/personal-data", use: forget)
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        func time(_ name: String) throws -> Date? {
            try parameters.get(name).map { text in
                guard let date = RFC3339.parse(text) else { throw Problem.invalidRequest("\(name) is not an RFC 3339 time") }
                return date
            }
        }
        // Every filter is checked before anything is sent: an export streams, so an error after
        // its first bytes could only cut the connection.
        func matching(_ name: String, _ rule: (UInt8) -> Bool, max: Int) throws -> String? {
            try parameters.get(name).map { text in
                guard !text.isEmpty, text.utf8.count <= max, text.utf8.allSatisfy(rule) else {
                    throw Problem.invalidRequest("\(name) is malformed")
                }
                return text
            }
        }
        let filter = EventFilter(
            userID: try parameters.get("user").map { try RequestValue.uuid($0, field: "user") },
            pool: try parameters.get("pool").map { try RequestValue.poolID($0).rawValue },
            sub: try parameters.get("sub").map { text in
                guard let sub = CognitoSub.canonical(text) else { throw Problem.from(IdentityMapError.invalidSub(field: "sub")) }
                return sub
            },
            kind: try matching("kind", { (0x61...0x7a).contains($0) || $0 == 0x5f }, max: 64),
            actor: try matching("actor", { (0x21...0x7e).contains($0) }, max: 200),
            since: try time("since"),
            until: try time("until")
        )
        let accept = request.headers[.accept] ?? ""
        let format: EventExportFormat?
        switch parameters.get("format") {
        case "ndjson": format = .ndjson
        case "csv": format = .csv
        case "json": format = nil
        case nil: format = accept.contains("application/x-ndjson") ? .ndjson : accept.contains("text/csv") ? .csv : nil
        case .some: throw Problem.invalidRequest("format must be json, ndjson or csv")
        }
        let withChain: Bool
        switch parameters.get("chain") {
        case nil, "false": withChain = false
        case "true": withChain = true
        case .some: throw Problem.invalidRequest("chain must be true or false")
        }
        if let format {
            return export(filter, format: format, withChain: withChain)
        }
        let cursor = try RequestValue.cursor(parameters)
        let limit = try RequestValue.limit(parameters, maximum: EventQuery.maxPage, default: 100)
        let events = try await query.page(filter, after: cursor, limit: limit, withChain: withChain)
        let next = events.count == limit ? events.last.map { String($0.id) } : nil
        return try JSONResponse.make(.ok, EventPageJSON(events: events.map { ExportedEvent($0, withChain: withChain) }, nextCursor: next))
    }

    /// Streams every matching event a page at a time: memory stays flat for millions of rows.
    func export(_ filter: EventFilter, format: EventExportFormat, withChain: Bool) -> Response {
        let query = self.query
        let body = ResponseBody { writer in
            if let header = format.header(withChain: withChain) { try await writer.write(ByteBuffer(string: header)) }
            for try await page in query.all(filter, withChain: withChain) {
                var chunk = ""
                for event in page { chunk += format.line(event, withChain: withChain) }
                try await writer.write(ByteBuffer(string: chunk))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: format.contentType], body: body)
    }

    @Sendable func forget(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try RequestValue.uuid(context.parameters.require("id"), field: "id")
        let result = try await erasure.forget(userID: id, attribution: context.attribution)
        return try JSONResponse.make(.ok, result)
    }
}

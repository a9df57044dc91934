import Foundation
import Hummingbird
import IdentityMap
import Reconciliation
import UserMigration

/// Reconciliation runs and findings, read-only (runs are made by `stableid reconcile`, findings
/// acknowledged with `stableid findings ack`). Scope `audit`.
struct ReconciliationController {
    let findings: FindingStore
    let campaigns: CampaignStore

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("reconciliation/runs", use: runs)
        group.get("reconciliation/findings", use: list)
        group.get("reconciliation/findings/{id}", use: show)
    }

    struct RunsJSON: Encodable {
        var runs: [ReconcileReport]
    }

    struct FindingsJSON: Encodable {
        var findings: [Finding]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case findings
            case nextCursor = "next_cursor"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(findings, forKey: .findings)
            try container.encode(nextCursor, forKey: .nextCursor)  // explicit null: the last page
        }
    }

    func campaignID(_ text: String?) async throws -> UUID? {
        guard let text else { return nil }
        guard text.utf8.count <= 200, let campaign = try await campaigns.campaign(text) else {
            throw Problem.notFound("no such campaign")
        }
        return campaign.id
    }

    /// Newest first; `before` (a run id) pages back.
    @Sendable func runs(request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let limit = try RequestValue.limit(parameters, maximum: 200, default: 50)
        let before = try parameters.get("before").map { try RequestValue.uuid($0, field: "before") }
        let scope = try await campaignID(parameters.get("campaign")).map { "campaign:\($0.uuidString.lowercased())" }
        return try JSONResponse.make(.ok, RunsJSON(runs: try await findings.runs(scope: scope, before: before, limit: limit)))
    }

    /// Oldest first, keyset-paginated like `/v1/events` (`next_cursor` → `cursor`).
    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var filter = FindingFilter()
        for text in parameters.getAll("kind") {
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let kind = FindingKind(rawValue: String(part)) else {
                    throw Problem.invalidRequest("kind must be one of \(FindingKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.kinds.insert(kind)
            }
        }
        if let text = parameters.get("state") {
            guard let state = FindingState(rawValue: text) else {
                throw Problem.invalidRequest("state must be open, resolved or acknowledged")
            }
            filter.state = state
        }
        filter.pool = try parameters.get("pool").map { try RequestValue.poolID($0) }
        filter.userID = try parameters.get("user").map { try RequestValue.uuid($0, field: "user") }
        filter.campaignID = try await campaignID(parameters.get("campaign"))
        let cursor = try RequestValue.cursor(parameters)
        let limit = try RequestValue.limit(parameters, maximum: FindingStore.maxPage, default: 100)
        let page = try await findings.list(filter, after: cursor, limit: limit)
        let next = page.count == limit ? page.last.map { String($0.id) } : nil
        return try JSONResponse.make(.ok, FindingsJSON(findings: page, nextCursor: next))
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        guard let id = Int64(try context.parameters.require("id")), id > 0 else { throw Problem.notFound("no such finding") }
        guard let finding = try await findings.finding(id) else { throw Problem.notFound("no such finding") }
        return try JSONResponse.make(.ok, finding)
    }
}

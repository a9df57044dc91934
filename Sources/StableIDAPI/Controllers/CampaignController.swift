import Hummingbird
import IdentityMap
import UserMigration

/// Campaigns, read-only over HTTP (created with `stableid campaign create`). Scope `admin`.
struct CampaignController {
    let campaigns: CampaignStore

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("campaigns", use: list)
        group.get("campaigns/{id}", use: show)
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(.ok, CampaignsJSON(campaigns: try await campaigns.list().map(CampaignJSON.init)))
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let campaign = try await campaigns.campaign(id) else { throw Problem.notFound("no such campaign") }
        return try JSONResponse.make(.ok, CampaignJSON(campaign))
    }
}

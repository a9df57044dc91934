import Foundation
import Hummingbird
import UserMigration

/// A campaign's progress: links by day and path, what remains, and the projection. Scope `audit`:
/// it is a report, like findings and runs, while the campaign's settings stay `admin`.
struct CampaignProgressController {
    let campaigns: CampaignStore
    let progress: CampaignProgressStore

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("campaigns/{id}/progress", use: show)
    }

    /// `level` (default 0.01) and `window_weeks` (default 4) are checked before the campaign is
    /// looked up, so a malformed query answers 400 `invalid_progress_query` whatever it names.
    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let parameters = request.uri.queryParameters
        let level =
            try parameters.get("level").map { (text: String) throws -> Double in
                guard let level = Double(text) else { throw MigrationError.invalidProgressQuery("level must be a number between 0 and 1") }
                return level
            } ?? 0.01
        let weeks =
            try parameters.get("window_weeks").map { (text: String) throws -> Int in
                guard let weeks = Int(text), (1...52).contains(weeks) else {
                    throw MigrationError.invalidProgressQuery("window_weeks must be a whole number of weeks from 1 to 52")
                }
                return weeks
            } ?? 4
        try CampaignProgressStore.validate(level: level, windowDays: weeks * 7)
        guard id.utf8.count <= 200, let campaign = try await campaigns.campaign(id) else { throw Problem.notFound("no such campaign") }
        let value = try await progress.progress(of: campaign, level: level, windowDays: weeks * 7)
        return try JSONResponse.make(.ok, ProgressJSON(value))
    }
}

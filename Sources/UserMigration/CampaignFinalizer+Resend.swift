import Cognito
import CognitoIngest
import Foundation
import IdentityMap

// `--resend`: a temporary password expires (the pool's TemporaryPasswordValidityDays, 7 by
// default); invited users who never signed in get a new one.
extension CampaignFinalizer {
    func resend(_ plan: Plan, options: Options, progress: ProgressReporter?, into summary: inout FinalizeSummary) async throws {
        let store = self.store
        let campaign = plan.campaign.id
        let budget = FinalizeBudget(options.limit)
        summary = try await process(
            from: UUID?.none,
            page: { (after: UUID?) async throws -> ([FinalizeRecord], UUID?)? in
                let page = try await store.records(
                    campaign: campaign, state: .created, mode: .invite, after: after, limit: Self.pageSize)
                return page.last.map { (page, Optional($0.person)) }
            },
            workers: options.workers, budget: budget, progress: progress, summary: summary,
            work: { (record: FinalizeRecord) in
                try await self.resend(record, plan: plan, dryRun: options.dryRun, budget: budget)
            }
        )
    }

    /// One invited user: still `FORCE_CHANGE_PASSWORD` (never signed in) → `AdminCreateUser` with
    /// `MessageAction=RESEND` to the same medium as before.
    func resend(_ record: FinalizeRecord, plan: Plan, dryRun: Bool, budget: FinalizeBudget) async throws -> FinalizeOutcome {
        let target = try client(for: plan.target)
        let found: AdminGetUserResponse
        do {
            found = try await target.adminGetUser(poolID: plan.target.id.rawValue, username: record.targetUsername)
        } catch let error as CognitoError where error.type == .userNotFound {
            return .skipped(.targetGone)
        }
        guard CognitoUserStatus(cognito: found.UserStatus) == .forceChangePassword else { return .skipped(.signedIn) }
        guard budget.take() else { return .limitReached }
        if dryRun { return .wouldCreate }
        let medium = found.attribute("email") != nil ? "EMAIL" : "SMS"
        do {
            _ = try await target.adminCreateUser(
                poolID: plan.target.id.rawValue, username: record.targetUsername, messageAction: "RESEND",
                desiredDeliveryMediums: [medium]
            )
        } catch let error as CognitoError where Self.refusesUser(error) {
            return .failed(record.person, code: error.type?.rawValue ?? "refused")
        }
        try await store.markResent(record.person, campaign: plan.campaign.id)
        return .resent
    }
}

import Cognito
import CognitoIngest
import Foundation
import IdentityMap

// `--resend`: a temporary password expires (the pool's TemporaryPasswordValidityDays, 7 by
// default); invited users who never signed in get a new one, once the one they have is old enough
// (`--older-than`, by default that validity), so a password that still works is not replaced.
extension CampaignFinalizer {
    /// Cognito's default `TemporaryPasswordValidityDays`, when the target's cannot be read.
    static let defaultTemporaryPasswordDays = 7

    func resend(_ plan: Plan, options: Options, progress: ProgressReporter?, into summary: inout FinalizeSummary) async throws {
        let store = self.store
        let campaign = plan.campaign.id
        let budget = FinalizeBudget(options.limit)
        let olderThan =
            options.resendOlderThan ?? TimeInterval((plan.temporaryPasswordDays ?? Self.defaultTemporaryPasswordDays) * 86_400)
        summary.resendOlderThan = olderThan
        summary = try await process(
            from: UUID?.none,
            page: { (after: UUID?) async throws -> ([FinalizeRecord], UUID?)? in
                let page = try await store.invitations(campaign: campaign, olderThan: olderThan, after: after, limit: Self.pageSize)
                return page.last.map { (page, Optional($0.person)) }
            },
            workers: options.workers, budget: budget, progress: progress, summary: summary,
            work: { (record: FinalizeRecord) in
                try await self.resend(record, plan: plan, dryRun: options.dryRun, budget: budget)
            }
        )
    }

    /// One invited user: still the user finalize made (the sub it linked, the stable-ID attribute
    /// naming the person — the username may have passed to someone else since), still
    /// `FORCE_CHANGE_PASSWORD` (never signed in) → `AdminCreateUser` with `MessageAction=RESEND` to
    /// a verified email, else a verified phone number, as the first invitation.
    func resend(_ record: FinalizeRecord, plan: Plan, dryRun: Bool, budget: FinalizeBudget) async throws -> FinalizeOutcome {
        guard let username = record.targetUsername, let targetSub = record.targetSub.flatMap(CognitoSub.canonical) else {
            return .skipped(.targetChanged)
        }
        let target = try client(for: plan.target)
        let found: AdminGetUserResponse
        do {
            found = try await target.adminGetUser(poolID: plan.target.id.rawValue, username: username)
        } catch let error as CognitoError where error.type == .userNotFound {
            return .skipped(.targetGone)
        }
        let named = found.attribute(plan.stableIDAttribute).flatMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) }
        guard found.attribute("sub").flatMap(CognitoSub.canonical) == targetSub, named == record.person else {
            return .skipped(.targetChanged)
        }
        guard CognitoUserStatus(cognito: found.UserStatus) == .forceChangePassword else { return .skipped(.signedIn) }
        var attributes: [String: String] = [:]
        for attribute in found.UserAttributes ?? [] { attributes[attribute.Name] = attribute.Value }
        guard let medium = FinalizeAccount.deliveryMedium(attributes) else { return .skipped(.noVerifiedContact) }
        guard budget.take() else { return .limitReached }
        if dryRun { return .wouldCreate(record.person) }
        do {
            _ = try await target.adminCreateUser(
                poolID: plan.target.id.rawValue, username: username, messageAction: "RESEND", desiredDeliveryMediums: [medium]
            )
        } catch let error as CognitoError where Self.refusesUser(error) {
            return .failed(record.person, code: error.type?.rawValue ?? "refused")
        }
        try await store.markResent(record.person, campaign: plan.campaign.id)
        return .resent(delivery: medium)
    }
}

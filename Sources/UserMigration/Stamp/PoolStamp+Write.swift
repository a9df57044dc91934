import Cognito
import Foundation
import IdentityMap

// One user's write: AdminUpdateUserAttributes, then its `user_stamped` event
// (``StampStore/recordStamped(person:sub:previous:run:pool:attribute:attribution:)``).
extension PoolStamp {
    /// Writes the person's ID into the user's attribute and records it. The client paces the call
    /// at the UserResourceUpdate rate and retries throttling, server errors and timeouts (the write
    /// is idempotent); what it cannot absorb stops the run, resumable. A refusal of this one user
    /// is counted and the run goes on.
    func write(_ write: StampWrite, plan: Plan, run: UUID?) async throws -> WriteOutcome {
        guard let run else { preconditionFailure("a dry run writes nothing") }
        do {
            try await plan.client.adminUpdateUserAttributes(
                poolID: plan.pool.id.rawValue, username: write.username,
                attributes: [AttributeType(plan.attribute, StampDecision.value(of: write.person))])
        } catch let error as CognitoError where error.type == .userNotFound {
            return .gone
        } catch let error as CognitoError where Self.refusesUser(error) {
            return .failed(StampSummary.Failure(person: write.person, code: error.type?.rawValue ?? "refused"))
        }
        try await store.recordStamped(
            person: write.person, sub: write.sub, previous: write.previous, run: run, pool: plan.pool.id, attribute: plan.attribute,
            attribution: attribution)
        return .changed
    }

    /// Cognito's refusals of one user's write, after which the next user's may well succeed: a value
    /// the pool rejects for this user, a Lambda of the pool refusing it. Anything else (access,
    /// quota after every retry, the pool) stops the run.
    static func refusesUser(_ error: CognitoError) -> Bool {
        switch error.type {
        case .invalidParameter?, .aliasExists?: return true
        case .other(let name)?: return name == "UserLambdaValidationException" || name == "UnsupportedUserStateException"
        default: return false
        }
    }
}

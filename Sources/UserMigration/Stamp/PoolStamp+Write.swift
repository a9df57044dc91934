import Cognito
import Foundation
import IdentityMap

// One user's write: AdminUpdateUserAttributes, then its `user_stamped` event
// (``StampStore/recordStamped(person:sub:previous:run:pool:attribute:attribution:)``); or one
// user's removal: AdminDeleteUserAttributes, then its `stable_id_attribute_cleared` event
// (``StampStore/recordCleared(person:sub:reason:previous:run:pool:attribute:attribution:)``).
extension PoolStamp {
    /// Writes the person's ID into the user's attribute, or removes the attribute, and records it.
    /// The client paces both calls at the UserResourceUpdate rate and retries throttling, server
    /// errors and timeouts (a repeated write or removal leaves the user as one does); what it
    /// cannot absorb stops the run, resumable. A refusal of this one user is counted and the run
    /// goes on.
    func write(_ write: StampWrite, plan: Plan, run: UUID?) async throws -> WriteOutcome {
        guard let run else { preconditionFailure("a dry run writes nothing") }
        do {
            switch write.action {
            case .stamp(let person):
                try await plan.client.adminUpdateUserAttributes(
                    poolID: plan.pool.id.rawValue, username: write.username,
                    attributes: [AttributeType(plan.attribute, StampDecision.value(of: person))])
            case .clear:
                try await plan.client.adminDeleteUserAttributes(
                    poolID: plan.pool.id.rawValue, username: write.username, attributeNames: [plan.attribute])
            }
        } catch let error as CognitoError where error.type == .userNotFound {
            return .gone
        } catch let error as CognitoError where Self.refusesUser(error) {
            let person = write.action.person
            return .failed(
                StampSummary.Failure(person: person, sub: person == nil ? write.sub : nil, code: error.type?.rawValue ?? "refused"))
        }
        switch write.action {
        case .stamp(let person):
            try await store.recordStamped(
                person: person, sub: write.sub, previous: write.previous, run: run, pool: plan.pool.id, attribute: plan.attribute,
                attribution: attribution)
            return .changed
        case .clear(let reason, let person):
            try await store.recordCleared(
                person: person, sub: write.sub, reason: reason, previous: write.previous, run: run, pool: plan.pool.id,
                attribute: plan.attribute, attribution: attribution)
            return .cleared
        }
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

extension PoolStamp.StampWrite.Action {
    /// The person the write names: the one written, or the cleared identity's (nil: not in the map).
    var person: UUID? {
        switch self {
        case .stamp(let person): return person
        case .clear(_, let person): return person
        }
    }
}

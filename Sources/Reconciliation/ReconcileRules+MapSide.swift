import Foundation
import IdentityMap

/// The rules for the map's side: orphaned identities and people, duplicates in a pool or across
/// the scope's pools.
extension ReconcileRules {
    /// A live identity whose Cognito user is gone. A replacement under the same username makes
    /// the reason `recreated` (its new sub is then an unmapped finding of its own). An identity
    /// linked or changed since the snapshot started is not judged (see
    /// ``MissingIdentityEvidence/changedSinceSnapshot``): `--fix orphaned` would delete a live user.
    public static func classify(_ evidence: MissingIdentityEvidence) -> DetectedFinding? {
        guard evidence.status == .active || evidence.status == .disabled, !evidence.changedSinceSnapshot else { return nil }
        var facts: [String: JSONValue] = [
            "reason": .string(evidence.replacedBySub == nil ? "not_in_pool" : "recreated"), "map_status": .string(evidence.status.rawValue),
        ]
        if let replacement = evidence.replacedBySub { facts["replaced_by_sub"] = .string(replacement) }
        return DetectedFinding(
            kind: .orphaned, subject: subject(pool: evidence.pool, sub: evidence.sub), pool: evidence.pool, sub: evidence.sub,
            userID: evidence.person, evidence: facts
        )
    }

    /// An active person with no live identity left.
    public static func classify(_ evidence: PersonEvidence) -> DetectedFinding? {
        guard evidence.liveIdentities == 0 else { return nil }
        return DetectedFinding(
            kind: .orphaned, subject: subject(person: evidence.person), userID: evidence.person, evidence: ["reason": "no_live_identity"]
        )
    }

    /// One person with two or more active identities in one pool (Cognito would have one user).
    public static func classify(_ evidence: PoolIdentitiesEvidence) -> DetectedFinding? {
        let subs = Array(Set(evidence.activeSubs)).sorted()
        guard subs.count >= 2 else { return nil }
        return DetectedFinding(
            kind: .duplicate, subject: subject(person: evidence.person, pool: evidence.pool), pool: evidence.pool,
            userID: evidence.person, evidence: ["reason": "several_active_identities", "subs": .array(subs.map(JSONValue.string))]
        )
    }

    /// Two or more people — mapped persons, or Cognito users the map does not have, each counting
    /// as its own — sharing one verified email or federated account across the scope's pools: the
    /// classic case is a user who signed up afresh in the target pool instead of migrating.
    /// Members whose identity is unlinked or deleted count for no one (``SharedAccountEvidence/Member/owner``).
    public static func classify(_ evidence: SharedAccountEvidence) -> DetectedFinding? {
        let owners = Set(evidence.members.compactMap(\.owner))
        let people = Set(evidence.members.compactMap(\.person))
        guard owners.count >= 2 else { return nil }
        let reason: String
        switch evidence.key {
        case .verifiedEmail: reason = "shared_verified_email"
        case .federated: reason = "shared_federated_account"
        }
        let members = evidence.members.sorted { ($0.pool.rawValue, $0.sub) < ($1.pool.rawValue, $1.sub) }.map { member -> JSONValue in
            var object: [String: JSONValue] = ["pool": .string(member.pool.rawValue), "sub": .string(member.sub)]
            if let person = member.person { object["user"] = JSONValue(person) }
            if member.isRetired, let status = member.identityStatus { object["map_status"] = .string(status.rawValue) }
            return .object(object)
        }
        return DetectedFinding(
            kind: .duplicate, subject: subject(evidence.key),
            evidence: [
                "reason": .string(reason), "members": .array(members),
                "users": .array(people.map { $0.uuidString.lowercased() }.sorted().map(JSONValue.string)),
                "unmapped_members": .number(Double(evidence.members.filter { $0.person == nil && $0.identityStatus == nil }.count)),
            ]
        )
    }
}

public import Foundation
import IdentityMap

/// The rules for a Cognito user of the snapshot: unmapped, stale, conflict, unmigrated.
extension ReconcileRules {
    /// Every finding about one snapshot user: unmapped, or stale / conflict / unmigrated.
    public static func classify(_ evidence: CognitoUserEvidence) -> [DetectedFinding] {
        guard let mapped = evidence.mapped else { return [unmapped(evidence)] }
        switch mapped.status {
        case .unlinked:
            // Unlinked on purpose: the map deliberately does not resolve this sub.
            return []
        case .deleted, .active, .disabled:
            return [stale(evidence.user, mapped), conflict(evidence), unmigrated(evidence)].compactMap { $0 }
        }
    }

    /// A user the map does not know. A user deleted and created again under the same username
    /// (new sub) is reported here with the identity it replaced — not as a conflict: the old
    /// identity is orphaned, the new sub simply not mapped yet.
    static func unmapped(_ evidence: CognitoUserEvidence) -> DetectedFinding {
        let user = evidence.user
        var facts: [String: JSONValue] = [
            "reason": .string(evidence.previousIdentity == nil ? "not_in_map" : "recreated"),
            "enabled": .bool(user.enabled), "user_status": .string(user.userStatus), "provider": .string(user.provider),
        ]
        if let previous = evidence.previousIdentity {
            facts["previous_sub"] = .string(previous.sub)
            facts["previous_user"] = JSONValue(previous.person)
        }
        if let target = evidence.attributeTarget {
            facts["attribute_user"] = JSONValue(target.person)
            facts["attribute_corroborated"] = .bool(target.corroborated)
        }
        if let person = linkTarget(evidence) { facts["link_to"] = JSONValue(person) }
        return DetectedFinding(
            kind: .unmapped, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub, evidence: facts
        )
    }

    /// The person an unmapped target-pool user may be linked to by `--fix unmapped`: the one its
    /// stable-ID attribute names, when that person is active and independent evidence agrees.
    /// (The campaign's finalize step writes the attribute on the users it creates; the triggers
    /// never ran for them.)
    public static func linkTarget(_ evidence: CognitoUserEvidence) -> UUID? {
        guard evidence.mapped == nil, evidence.role == .target, let target = evidence.attributeTarget,
            target.status == .active, target.corroborated
        else { return nil }
        return target.person
    }

    /// Email (after normalization), verified flag or enabled state differ; or the map says the
    /// identity is deleted while the pool still has the user. An identity changed since the
    /// snapshot started is not judged: the map may simply be newer than the pool's record.
    static func stale(_ user: SnapshotUser, _ mapped: MappedIdentity) -> DetectedFinding? {
        guard !mapped.changedSinceSnapshot else { return nil }
        let fields = staleFields(user, mapped)
        guard !fields.isEmpty else { return nil }
        var facts: [String: JSONValue] = [
            "reason": .string(mapped.status == .deleted ? "deleted_in_map" : "attributes_differ"),
            "fields": .array(fields.map(JSONValue.string)),
            "pool_email_verified": .bool(effectiveVerified(user.email, user.emailVerified)),
            "map_email_verified": .bool(effectiveVerified(mapped.email, mapped.emailVerified)),
            "pool_enabled": .bool(user.enabled), "map_status": .string(mapped.status.rawValue),
        ]
        if fields.contains("email") {
            // Which side has an address at all, never the addresses themselves.
            facts["pool_has_email"] = .bool(emailKey(user.email) != nil)
            facts["map_has_email"] = .bool(emailKey(mapped.email) != nil)
        }
        return DetectedFinding(
            kind: .stale, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub, userID: mapped.person,
            evidence: facts
        )
    }

    /// The fields that differ, in a fixed order: `email`, `email_verified`, `enabled`, `status`.
    public static func staleFields(_ user: SnapshotUser, _ mapped: MappedIdentity) -> [String] {
        var fields: [String] = []
        if emailKey(user.email) != emailKey(mapped.email) { fields.append("email") }
        if effectiveVerified(user.email, user.emailVerified) != effectiveVerified(mapped.email, mapped.emailVerified) {
            fields.append("email_verified")
        }
        switch mapped.status {
        case .active, .disabled:
            if (mapped.status == .active) != user.enabled { fields.append("enabled") }
        case .deleted:
            fields.append("status")
        case .unlinked:
            break
        }
        return fields
    }

    /// The form emails are compared in: ``EmailAddress/normalize(_:)`` (trimmed, NFKC, lower
    /// case). Something that is not an address compares as no email, as the map stores it.
    public static func emailKey(_ email: String?) -> String? {
        email.flatMap(EmailAddress.normalize)
    }

    /// A verified flag means nothing without an address.
    static func effectiveVerified(_ email: String?, _ verified: Bool) -> Bool {
        emailKey(email) != nil && verified
    }

    /// The stable-ID attribute names another person than the map (after following merges), or
    /// no user at all. Only for subs the map links to a person.
    static func conflict(_ evidence: CognitoUserEvidence) -> DetectedFinding? {
        guard let mapped = evidence.mapped, mapped.status == .active || mapped.status == .disabled,
            let raw = evidence.user.stableIDAttribute?.trimmingCharacters(in: .whitespaces), !raw.isEmpty
        else { return nil }
        let user = evidence.user
        var facts: [String: JSONValue] = ["map_user": JSONValue(mapped.person)]
        if let target = evidence.attributeTarget {
            guard target.person != mapped.person else { return nil }
            facts["reason"] = "names_other_user"
            facts["attribute_user"] = JSONValue(target.person)
            facts["attribute_user_status"] = .string(target.status.rawValue)
        } else {
            facts["reason"] = .string(UUID(uuidString: raw) == nil ? "not_a_user_id" : "names_unknown_user")
        }
        return DetectedFinding(
            kind: .conflict, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub, userID: mapped.person,
            evidence: facts
        )
    }

    /// An enabled source user whose active person has no active identity in the target pool.
    /// Disabled users are not expected to migrate; an unmapped user has no person to migrate yet
    /// (it is reported as unmapped, and judged here once the map has it). A campaign over a subset
    /// waits only for its members. A member whose person is active in the target pool of another
    /// campaign is `migrated_elsewhere` instead: moving them here too would give them a second
    /// account, so a person decides (finalize never sees them, progress does not wait for them).
    static func unmigrated(_ evidence: CognitoUserEvidence) -> DetectedFinding? {
        guard evidence.role == .source, evidence.user.enabled, let mapped = evidence.mapped,
            mapped.status == .active || mapped.status == .disabled, mapped.personStatus == .active, evidence.migrated == false,
            evidence.inSubset
        else { return nil }
        let user = evidence.user
        if !evidence.elsewhere.isEmpty {
            return DetectedFinding(
                kind: .migratedElsewhere, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub,
                userID: mapped.person,
                evidence: [
                    "reason": "in_other_campaign_target", "target_pools": .array(evidence.elsewhere.map { .string($0.rawValue) }),
                    "user_status": .string(user.userStatus),
                ]
            )
        }
        return DetectedFinding(
            kind: .unmigrated, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub, userID: mapped.person,
            evidence: [
                "reason": "no_active_target_identity", "user_status": .string(user.userStatus), "provider": .string(user.provider),
            ]
        )
    }
}

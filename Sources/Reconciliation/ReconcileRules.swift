public import Foundation
public import IdentityMap

/// What a reconciliation run concludes about one subject, decided from the facts the run's SQL
/// gathered for it. Pure: no rule looks anything up, so every rule is tested without a database.
///
/// The split with SQL (``ReconcileClassifier``): the database does the bulk matching — joins the
/// snapshot with the map, follows merges, finds the person's identity in the target pool, the
/// user the stable-ID attribute names, the identity a recreated user replaced — and keeps only
/// *candidates*, rows where some rule here could fire (a superset: a candidate may well yield
/// nothing). These rules then decide the kinds and the evidence. A subject whose facts all agree
/// must give no finding; the tests pin that down, which is what keeps the SQL prefilter honest.
public enum ReconcileRules {
    /// The part a pool plays in the run's scope.
    public enum PoolRole: String, Sendable, Equatable {
        /// A campaign's source pool: its enabled users are expected to migrate.
        case source
        /// A campaign's target pool.
        case target
        /// A pool of a run without a campaign.
        case other
    }

    /// A Cognito user as the snapshot recorded it.
    public struct SnapshotUser: Sendable, Equatable {
        public var pool: PoolID
        public var sub: String
        public var username: String
        public var email: String?
        public var emailVerified: Bool
        public var enabled: Bool
        /// Cognito's `UserStatus` (`CONFIRMED`, `EXTERNAL_PROVIDER`, …), reported as evidence.
        public var userStatus: String
        /// `Cognito` or the federated provider (`Google`, …).
        public var provider: String
        public var providerUserID: String?
        /// The value of the scope's stable-ID attribute (`custom:stable_id`), if the user has one.
        public var stableIDAttribute: String?

        public init(
            pool: PoolID, sub: String, username: String, email: String? = nil, emailVerified: Bool = false, enabled: Bool = true,
            userStatus: String = "CONFIRMED", provider: String = NewIdentity.defaultProvider, providerUserID: String? = nil,
            stableIDAttribute: String? = nil
        ) {
            self.pool = pool
            self.sub = sub
            self.username = username
            self.email = email
            self.emailVerified = emailVerified
            self.enabled = enabled
            self.userStatus = userStatus
            self.provider = provider
            self.providerUserID = providerUserID
            self.stableIDAttribute = stableIDAttribute
        }
    }

    /// The map's identity for the same `(pool, sub)`, with its person (merges followed).
    public struct MappedIdentity: Sendable, Equatable {
        public var person: UUID
        public var personStatus: UserStatus
        public var status: IdentityStatus
        public var email: String?
        public var emailVerified: Bool
        /// The identity was linked or updated at or after its pool's snapshot started: the pool's
        /// record may predate the change, so the two cannot be compared.
        public var changedSinceSnapshot: Bool

        public init(
            person: UUID, personStatus: UserStatus = .active, status: IdentityStatus = .active, email: String? = nil,
            emailVerified: Bool = false, changedSinceSnapshot: Bool = false
        ) {
            self.person = person
            self.personStatus = personStatus
            self.status = status
            self.email = email
            self.emailVerified = emailVerified
            self.changedSinceSnapshot = changedSinceSnapshot
        }
    }

    /// The person the stable-ID attribute names (its survivor, when that ID was merged).
    public struct AttributeTarget: Sendable, Equatable {
        public var person: UUID
        public var status: UserStatus
        /// Independent evidence names the same person: one of their identities in another pool
        /// (a campaign's source pools) with the same username, the same verified email or the same
        /// federated account. App clients can write the attribute, so on its own it proves nothing
        /// (the same stance as ``TriggerLinkRules``).
        public var corroborated: Bool

        public init(person: UUID, status: UserStatus = .active, corroborated: Bool = false) {
            self.person = person
            self.status = status
            self.corroborated = corroborated
        }
    }

    /// A live map identity of the same pool and username under another sub that the pool no
    /// longer has: the user was deleted and created again.
    public struct PreviousIdentity: Sendable, Equatable {
        public var sub: String
        public var person: UUID

        public init(sub: String, person: UUID) {
            self.sub = sub
            self.person = person
        }
    }

    /// Everything the run knows about one Cognito user of the snapshot.
    public struct CognitoUserEvidence: Sendable, Equatable {
        public var user: SnapshotUser
        public var role: PoolRole
        public var mapped: MappedIdentity?
        /// Source users with a person: whether that person has an active identity in the target.
        public var migrated: Bool?
        public var attributeTarget: AttributeTarget?
        public var previousIdentity: PreviousIdentity?

        public init(
            user: SnapshotUser, role: PoolRole, mapped: MappedIdentity? = nil, migrated: Bool? = nil,
            attributeTarget: AttributeTarget? = nil, previousIdentity: PreviousIdentity? = nil
        ) {
            self.user = user
            self.role = role
            self.mapped = mapped
            self.migrated = migrated
            self.attributeTarget = attributeTarget
            self.previousIdentity = previousIdentity
        }
    }

    /// A live identity of the map (active or disabled) whose sub the pool's snapshot lacks.
    public struct MissingIdentityEvidence: Sendable, Equatable {
        public var pool: PoolID
        public var sub: String
        public var person: UUID
        public var status: IdentityStatus
        /// The sub the pool now has under the same username (deleted and created again).
        public var replacedBySub: String?
        /// The identity was linked or updated at or after its pool's snapshot started. A user
        /// created while ListUsers was paging (and linked by a trigger) is missing from the
        /// snapshot without being gone, so its absence proves nothing.
        public var changedSinceSnapshot: Bool

        public init(
            pool: PoolID, sub: String, person: UUID, status: IdentityStatus, replacedBySub: String? = nil,
            changedSinceSnapshot: Bool = false
        ) {
            self.pool = pool
            self.sub = sub
            self.person = person
            self.status = status
            self.replacedBySub = replacedBySub
            self.changedSinceSnapshot = changedSinceSnapshot
        }
    }

    /// An active person with an identity in the scope, and how many live identities it has left
    /// anywhere (active or disabled: a disabled Cognito user is still the person's account).
    public struct PersonEvidence: Sendable, Equatable {
        public var person: UUID
        public var liveIdentities: Int

        public init(person: UUID, liveIdentities: Int) {
            self.person = person
            self.liveIdentities = liveIdentities
        }
    }

    /// One person's active identities in one pool.
    public struct PoolIdentitiesEvidence: Sendable, Equatable {
        public var person: UUID
        public var pool: PoolID
        public var activeSubs: [String]

        public init(person: UUID, pool: PoolID, activeSubs: [String]) {
            self.person = person
            self.pool = pool
            self.activeSubs = activeSubs
        }
    }

    /// Snapshot users across the scope's pools sharing one key that names a single human.
    public struct SharedAccountEvidence: Sendable, Equatable {
        public enum Key: Sendable, Equatable {
            /// A verified email, by the hex SHA-256 of its normalized form (findings outlive runs
            /// and must not keep addresses).
            case verifiedEmail(digest: String)
            /// A federated account: the provider and the person's id there.
            case federated(provider: String, userID: String)
        }

        public struct Member: Sendable, Equatable {
            public var pool: PoolID
            public var sub: String
            /// The person of the member's live (active or disabled) identity; nil otherwise.
            public var person: UUID?
            /// The status of the member's identity in the map; nil when the map lacks it.
            public var identityStatus: IdentityStatus?

            public init(pool: PoolID, sub: String, person: UUID?, identityStatus: IdentityStatus? = nil) {
                self.pool = pool
                self.sub = sub
                self.person = person
                self.identityStatus = identityStatus ?? (person == nil ? nil : .active)
            }

            /// Who the member stands for when owners are counted: its person, or — for a user the
            /// map lacks — the Cognito user itself. A member whose identity was unlinked or marked
            /// deleted stands for no one: the map deliberately does not resolve it, so it cannot
            /// make the account look shared.
            public var owner: String? {
                switch identityStatus {
                case .unlinked?, .deleted?: return nil
                case .active?, .disabled?, nil:
                    if let person { return person.uuidString }
                    return ReconcileRules.subject(pool: pool, sub: sub)
                }
            }

            /// Unlinked or deleted in the map.
            var isRetired: Bool { identityStatus == .unlinked || identityStatus == .deleted }
        }

        public var key: Key
        public var members: [Member]

        public init(key: Key, members: [Member]) {
            self.key = key
            self.members = members
        }
    }

    /// One finding as a rule decides it; the run upserts it into `findings` by (kind, subject).
    public struct DetectedFinding: Sendable, Equatable {
        public var kind: FindingKind
        /// The finding's stable key within its kind (see the `subject(…)` functions).
        public var subject: String
        public var pool: PoolID?
        public var sub: String?
        public var userID: UUID?
        /// Facts an operator needs to act, `reason` first among them. No emails or usernames.
        public var evidence: [String: JSONValue]

        public init(
            kind: FindingKind, subject: String, pool: PoolID? = nil, sub: String? = nil, userID: UUID? = nil,
            evidence: [String: JSONValue]
        ) {
            self.kind = kind
            self.subject = subject
            self.pool = pool
            self.sub = sub
            self.userID = userID
            self.evidence = evidence
        }

        public var reason: String? { evidence["reason"]?.stringValue }
    }

    // MARK: Subjects

    /// Prefixes of the subjects that name a person's account (a verified email by digest, a
    /// federated account); see ``isPersonal(subject:)``.
    public static let emailSubjectPrefix = "email:"
    public static let federatedSubjectPrefix = "federated:"

    public static func subject(pool: PoolID, sub: String) -> String { "\(pool.rawValue)/\(sub)" }
    public static func subject(person: UUID) -> String { "user:\(person.uuidString.lowercased())" }
    public static func subject(person: UUID, pool: PoolID) -> String { "user:\(person.uuidString.lowercased())/\(pool.rawValue)" }
    public static func subject(_ key: SharedAccountEvidence.Key) -> String {
        switch key {
        case .verifiedEmail(let digest): return emailSubjectPrefix + digest
        case .federated(let provider, let userID): return "\(federatedSubjectPrefix)\(provider):\(userID)"
        }
    }

    /// Whether a subject names a person's account rather than an id events carry anyway. An
    /// email digest is unsalted (a list of addresses reverses it) and a federated user id is the
    /// provider's own key for the person: such subjects stay out of immutable event details.
    public static func isPersonal(subject: String) -> Bool {
        subject.hasPrefix(emailSubjectPrefix) || subject.hasPrefix(federatedSubjectPrefix)
    }

    // MARK: A Cognito user of the snapshot

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
    /// (it is reported as unmapped, and judged here once the map has it).
    static func unmigrated(_ evidence: CognitoUserEvidence) -> DetectedFinding? {
        guard evidence.role == .source, evidence.user.enabled, let mapped = evidence.mapped,
            mapped.status == .active || mapped.status == .disabled, mapped.personStatus == .active, evidence.migrated == false
        else { return nil }
        let user = evidence.user
        return DetectedFinding(
            kind: .unmigrated, subject: subject(pool: user.pool, sub: user.sub), pool: user.pool, sub: user.sub, userID: mapped.person,
            evidence: [
                "reason": "no_active_target_identity", "user_status": .string(user.userStatus), "provider": .string(user.provider),
            ]
        )
    }

    // MARK: The map's side

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

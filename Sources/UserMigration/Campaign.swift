public import Foundation
public import IdentityMap

/// A migration of users from one or more source pools into a target pool.
public struct Campaign: Sendable, Equatable {
    public enum Phase: String, Sendable, CaseIterable {
        /// Users move at their next sign-in (the Migrate-user trigger).
        case lazy
        /// The long tail is being exported or invited.
        case finalizing
        case done
    }

    /// Ways a new target sub may find its person when no stronger evidence (stable-ID attribute,
    /// pending link, federated account) does.
    public enum LinkRule: String, Sendable, CaseIterable {
        /// The same username in a source pool.
        case username
        /// The target user's email is a source user's username (pools that sign in by email).
        case email
        /// The same email, verified on both sides. Never an unverified one: that would let anyone
        /// who typed a victim's address somewhere take over the victim's person.
        case verifiedEmail = "verified-email"
    }

    /// What the Migrate-user trigger does with a source user whose password check ends in an MFA
    /// challenge: the password was right, but the second factor cannot be checked here.
    public enum MFAUsers: String, Sendable, CaseIterable {
        /// Migrated `RESET_REQUIRED`: Cognito makes them prove their email or phone with a code.
        case reset
        /// Refused, as a wrong password is.
        case refuse
    }

    public struct Source: Sendable, Equatable {
        public var pool: PoolID
        /// The app client used for the password check (`ADMIN_USER_PASSWORD_AUTH`).
        public var clientID: String?
        /// Whether that client has a secret (stored, never shown).
        public var hasClientSecret: Bool

        public init(pool: PoolID, clientID: String? = nil, hasClientSecret: Bool = false) {
            self.pool = pool
            self.clientID = clientID
            self.hasClientSecret = hasClientSecret
        }
    }

    public var id: UUID
    public var name: String
    public var target: PoolID
    public var sources: [Source]
    public var phase: Phase
    public var stableIDAttribute: String?
    public var linkBy: [LinkRule]
    public var mfaUsers: MFAUsers
    /// The target pool's facts as last read (``TargetPoolFacts``).
    public var targetFacts: TargetPoolFacts
    public var createdAt: Date
    public var phaseChangedAt: Date
    /// The source users the campaign is about; nil: all of them (``CampaignSubset``).
    public var subset: CampaignSubset? = nil
}

/// What a campaign is created from.
public struct NewCampaign: Sendable {
    public var name: String?
    public var target: PoolID
    public var sources: [PoolID]
    /// The app client for every source without one of its own in ``sourceClientIDs``.
    public var sourceClientID: String?
    /// Per source pool: each pool has its own app clients.
    public var sourceClientIDs: [PoolID: String]
    public var sourceClientSecret: String?
    /// Per source pool, for clients that differ per pool.
    public var sourceClientSecrets: [PoolID: String] = [:]
    public var stableIDAttribute: String?
    public var linkBy: [Campaign.LinkRule]
    public var mfaUsers: Campaign.MFAUsers = .reset
    /// Read by the caller before the campaign's transaction (``TargetPoolFacts/read``); unknown
    /// when not read, which the triggers treat as the unsafe case.
    public var targetFacts: TargetPoolFacts = .unknown
    /// `--only` conditions (``CampaignSubset/conditions(parsing:)``); empty with no members: all users.
    public var subsetConditions: [CampaignSubset.Condition] = []
    /// `--only-file` (``CampaignSubset/members(parsing:sources:)``); nil: no member file.
    public var subsetMembers: [SubsetMember]? = nil

    /// The subset the campaign will have; nil when it covers every source user.
    public var subset: CampaignSubset? {
        guard !subsetConditions.isEmpty || subsetMembers != nil else { return nil }
        return CampaignSubset(conditions: subsetConditions, members: subsetMembers.map(CampaignSubset.counts(of:)))
    }

    public init(
        name: String? = nil, target: PoolID, sources: [PoolID], sourceClientID: String? = nil, sourceClientIDs: [PoolID: String] = [:],
        sourceClientSecret: String? = nil, stableIDAttribute: String? = nil, linkBy: [Campaign.LinkRule] = [.username]
    ) {
        self.name = name
        self.target = target
        self.sources = sources
        self.sourceClientID = sourceClientID
        self.sourceClientIDs = sourceClientIDs
        self.sourceClientSecret = sourceClientSecret
        self.stableIDAttribute = stableIDAttribute
        self.linkBy = linkBy
    }

    func clientID(for pool: PoolID) -> String? { sourceClientIDs[pool] ?? sourceClientID }
    func clientSecret(for pool: PoolID) -> String? { sourceClientSecrets[pool] ?? sourceClientSecret }

    /// The rules a campaign must satisfy before anything is written.
    public func validated() throws(MigrationError) -> NewCampaign {
        guard !sources.isEmpty else { throw .invalidCampaign("give at least one --source pool") }
        guard Set(sources).count == sources.count else { throw .invalidCampaign("a source pool is listed twice") }
        guard !sources.contains(target) else { throw .invalidCampaign("the target pool cannot also be a source") }
        if let name,
            !(1...128).contains(name.utf8.count) || name.utf8.first == UInt8(ascii: " ")
                || !name.utf8.allSatisfy({ $0.isASCIIAlphanumericOrUnderscore || " .:-".utf8.contains($0) })
        {
            throw .invalidCampaign("the name must be 1 to 128 letters, digits, spaces or _ . : -")
        }
        // Campaigns are found by id or by name: a name shaped like an id would be ambiguous.
        if let name, UUID(uuidString: name) != nil { throw .invalidCampaign("a name cannot be a UUID") }
        if let attribute = stableIDAttribute {
            let suffix = attribute.dropFirst("custom:".count)
            guard attribute.hasPrefix("custom:"), (1...20).contains(suffix.utf8.count),
                suffix.utf8.allSatisfy({ $0.isASCIIAlphanumericOrUnderscore })
            else { throw .invalidCampaign("the stable-ID attribute must look like custom:stable_id") }
        }
        for client in [sourceClientID].compactMap({ $0 }) + Array(sourceClientIDs.values)
        where !(1...128).contains(client.utf8.count)
            || !client.utf8.allSatisfy({ $0.isASCIIAlphanumericOrUnderscore || $0 == UInt8(ascii: "+") })
        {
            throw .invalidCampaign("a source client id must be letters and digits")
        }
        if let stray = Array(sourceClientIDs.keys).first(where: { !sources.contains($0) })
            ?? Array(sourceClientSecrets.keys).first(where: { !sources.contains($0) })
        {
            throw .invalidCampaign("--source-client-id names \(stray), which is not a source")
        }
        if sourceClientSecret != nil, sourceClientID == nil, sourceClientIDs.isEmpty {
            throw .invalidCampaign("a client secret needs --source-client-id")
        }
        guard !linkBy.isEmpty else { throw .invalidCampaign("give at least one --link-by rule") }
        for condition in subsetConditions {
            guard CampaignSubset.isAttributeName(condition.attribute), !condition.values.isEmpty,
                !condition.values.contains(where: \.isEmpty)
            else { throw .invalidCampaign("--only \(condition.attribute): give an attribute and at least one value") }
        }
        if Set(subsetConditions.map(\.attribute)).count != subsetConditions.count {
            throw .invalidCampaign("--only names an attribute twice")
        }
        if let members = subsetMembers {
            guard !members.isEmpty else { throw .invalidCampaign("--only-file lists nobody") }
            if let stray = members.compactMap(\.pool).first(where: { !sources.contains($0) }) {
                throw .invalidCampaign("--only-file names \(stray), which is not a source")
            }
        }
        return self
    }
}

extension UInt8 {
    var isASCIIAlphanumericOrUnderscore: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "_")
    }
}

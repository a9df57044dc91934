public import Foundation
public import IdentityMap
public import UserMigration

/// What one reconciliation run covers: a campaign (its source pools and its target), or a set of
/// pools without a campaign. Findings are kept per scope, so a run opens and resolves only the
/// findings of its own scope, and two scopes never resolve each other's findings.
public struct ReconcileScope: Sendable, Equatable {
    public var campaignID: UUID?
    public var target: PoolID?
    public var sources: [PoolID]
    /// The pools of a run without a campaign.
    public var others: [PoolID]
    /// The custom attribute that carries the stable ID (`custom:stable_id`), if the pools have one.
    public var stableIDAttribute: String?
    /// What the target pool lets anyone choose, as last read (``TargetPoolFacts``): `--fix
    /// unmapped` trusts a target user's claims exactly as far as the triggers do.
    public var trust: TriggerLinkRules.Trust = .unsafe
    /// The campaign's subset: only its members can be `unmigrated` (or `migrated_elsewhere`). Its
    /// attribute conditions are judged as each source user is staged (the snapshot keeps no other
    /// attributes), its member file when the run classifies.
    public var subset: CampaignSubset?

    /// A campaign's pools; its stable-ID attribute is read from every one of them.
    public init(campaign: Campaign) {
        self.init(
            campaignID: campaign.id, target: campaign.target, sources: campaign.sources.map(\.pool),
            stableIDAttribute: campaign.stableIDAttribute
        )
        self.trust = TriggerLinkRules.Trust(campaign.targetFacts)
        self.subset = campaign.subset
    }

    /// The same from the campaign's parts (tests, callers holding only ids).
    public init(campaignID: UUID, target: PoolID, sources: [PoolID], stableIDAttribute: String? = nil) {
        self.campaignID = campaignID
        self.target = target
        self.sources = Array(Set(sources)).sorted()
        self.others = []
        self.stableIDAttribute = stableIDAttribute
    }

    /// Pools without a campaign: no unmigrated findings (nothing says where users should go).
    public init(pools: [PoolID], stableIDAttribute: String? = nil) throws(ReconciliationError) {
        guard !pools.isEmpty else { throw .invalidScope("give a campaign or at least one pool") }
        if let attribute = stableIDAttribute, !Self.isCustomAttribute(attribute) {
            throw .invalidScope("the stable-ID attribute must look like custom:stable_id")
        }
        self.campaignID = nil
        self.target = nil
        self.sources = []
        self.others = Array(Set(pools)).sorted()
        self.stableIDAttribute = stableIDAttribute
    }

    /// Every pool of the scope, sorted: the order advisory locks are taken in.
    public var pools: [PoolID] {
        Array(Set(sources + others + (target.map { [$0] } ?? []))).sorted()
    }

    /// `campaign:<id>` or `pools:<id>,<id>`: the key findings and runs are kept under, and the
    /// name of the run-level advisory lock.
    public var key: String {
        if let campaignID { return "campaign:\(campaignID.uuidString.lowercased())" }
        return "pools:" + pools.map(\.rawValue).joined(separator: ",")
    }

    public func role(of pool: PoolID) -> ReconcileRules.PoolRole {
        if pool == target { return .target }
        if sources.contains(pool) { return .source }
        return .other
    }

    static func isCustomAttribute(_ name: String) -> Bool {
        let suffix = name.utf8.dropFirst("custom:".utf8.count)
        return name.hasPrefix("custom:") && (1...20).contains(suffix.count)
            && suffix.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            }
    }
}

/// Where a run's users came from: `file` as soon as one pool was read from a file.
public enum ReconcileSource: String, Sendable, Codable, Equatable {
    case live, file
}

/// What a run does when another run of the same scope, or an import into one of its pools, holds
/// the lock.
public enum ReconcileLockPolicy: Sendable, Equatable {
    /// Refuse at once with ``ReconciliationError/busy(_:)`` (cron: exit 3, try next time).
    case failFast
    /// Wait for the lock; `timeout` nil waits as long as it takes.
    case wait(timeout: Duration?)
}

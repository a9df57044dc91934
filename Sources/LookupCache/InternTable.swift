import Foundation
import IdentityMap

/// The few distinct values that a million identities repeat — pools, providers, campaigns —
/// stored once and named by a small number in each entry (``PackedIdentity``), plus the
/// issuer → pool mapping that lookups by `iss` need.
///
/// Numbers are never reused or renumbered while a cache lives, so an entry stays valid when the
/// table grows; a pool whose issuer changes keeps its number.
struct InternTable: Sendable {
    private(set) var pools: [PoolID] = []
    private var poolsByName: [String: UInt32] = [:]
    private var poolsByIssuer: [String: UInt32] = [:]
    private(set) var providers: [String] = []
    private var providersByName: [String: UInt16] = [:]
    private(set) var campaigns: [UUID] = []
    private var campaignsByID: [UUID: UInt16] = [:]

    /// Campaign code 0 means "no campaign"; codes 1… name `campaigns[code - 1]`.
    static let maxCampaigns = Int(UInt16.max)
    static let maxProviders = Int(UInt16.max) + 1

    func pool(named rawValue: String) -> UInt32? { poolsByName[rawValue] }

    /// `issuer` as stored in `pools.issuer` (the caller normalizes, as `ResolveQueries` does).
    func pool(issuer: String) -> UInt32? { poolsByIssuer[issuer] }

    func provider(named name: String) -> UInt16? { providersByName[name] }

    /// 0 for none, the code of an interned campaign, nil for one that is not interned.
    func campaignCode(_ id: UUID?) -> UInt16? {
        guard let id else { return 0 }
        return campaignsByID[id]
    }

    func campaign(code: UInt16) -> UUID? {
        code == 0 ? nil : campaigns[Int(code) - 1]
    }

    /// Compared before and after interning: a change means readers need a new snapshot.
    var size: (pools: Int, providers: Int, campaigns: Int) { (pools.count, providers.count, campaigns.count) }

    @discardableResult
    mutating func intern(pool: PoolID) -> UInt32 {
        if let known = poolsByName[pool.rawValue] { return known }
        let code = UInt32(pools.count)
        pools.append(pool)
        poolsByName[pool.rawValue] = code
        return code
    }

    /// Nil when 65,536 providers are known already: such an identity is not cached (its lookups
    /// go to PostgreSQL), which no real map comes near.
    @discardableResult
    mutating func intern(provider: String) -> UInt16? {
        if let known = providersByName[provider] { return known }
        guard providers.count < Self.maxProviders else { return nil }
        let code = UInt16(providers.count)
        providers.append(provider)
        providersByName[provider] = code
        return code
    }

    @discardableResult
    mutating func intern(campaign: UUID) -> UInt16? {
        if let known = campaignsByID[campaign] { return known }
        guard campaigns.count < Self.maxCampaigns else { return nil }
        campaigns.append(campaign)
        let code = UInt16(campaigns.count)
        campaignsByID[campaign] = code
        return code
    }

    /// Replaces the issuer mapping with the `pools` table as it is now.
    mutating func setIssuers(_ issuers: [(pool: PoolID, issuer: String)]) {
        var byIssuer: [String: UInt32] = [:]
        for (pool, issuer) in issuers {
            byIssuer[issuer] = intern(pool: pool)
        }
        poolsByIssuer = byIssuer
    }

    var issuerCount: Int { poolsByIssuer.count }
}

/// An immutable copy of the table that every shard holds, so a lookup reads it under the shard's
/// own lock instead of contending for a global one. The single writer publishes a new snapshot
/// to every shard before storing an entry that uses a new number.
final class InternSnapshot: Sendable {
    let table: InternTable

    init(_ table: InternTable) {
        self.table = table
    }
}

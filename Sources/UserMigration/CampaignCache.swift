import Foundation
import IdentityMap
import Synchronization

/// The latest campaign per target pool, kept a few seconds per replica: every sign-in asks for
/// it, and campaigns change a handful of times in their life. A new campaign or phase reaches the
/// triggers within ``ttl``.
final class CampaignCache: Sendable {
    static let ttl: Duration = .seconds(5)
    private let entries = Mutex<[PoolID: (campaign: Campaign?, fetched: ContinuousClock.Instant)]>([:])

    func latest(for pool: PoolID, load: () throws -> Campaign?) rethrows -> Campaign? {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[pool] }), now - entry.fetched < Self.ttl { return entry.campaign }
        let campaign = try load()
        entries.withLock { $0[pool] = (campaign, now) }
        return campaign
    }
}

import IdentityMap
import Synchronization

/// One identity as PostgreSQL answers it now: stored, or removed when `resolution` is nil
/// (unlinked, deleted, or gone).
struct CacheUpdate: Sendable {
    var pool: PoolID
    var sub: UUIDBits
    var resolution: Resolution?
}

/// The writer's side, used by the ``LookupCacheFollower`` alone (one writer, so writes never
/// race each other; they only race lookups, which the shard locks order).
extension LookupCache {
    /// Empties the map for a warm-up; lookups go to PostgreSQL until the follower has caught up.
    func beginWarming(expectedEntries: Int) {
        setServingDeadline(nil)
        let perShard = max(0, expectedEntries) / shards.count
        let reserve = perShard + perShard / 16
        control.withLock { control in
            control.state = .warming
            control.interns = InternTable()
            control.position = 0
            control.missingIDs = 0
            control.caughtUpAt = nil
            control.warmups += 1
            control.expectedEntries = max(0, expectedEntries)
            let empty = InternSnapshot(control.interns)
            for shard in shards {
                shard.storage.withLock { storage in
                    storage.removeAll()
                    storage.adopt(empty)
                    // About 48 bytes of username and email per identity.
                    storage.reserveCapacity(entries: reserve, textBytes: reserve * 48)
                }
            }
        }
        resetEntryCount()
        metrics.record(state: .warming)
    }

    /// Lookups go to PostgreSQL from now on; the entries stay for a resumed feed to bring up to date.
    func switchOff() {
        setServingDeadline(nil)
        control.withLock { $0.state = .off }
        metrics.record(state: .off)
    }

    /// After a poll that read everything there was and started at `pollStarted`: every change
    /// committed before then is applied, so answers may be served until `maxStaleness` later.
    func markCaughtUp(pollStarted: ContinuousClock.Instant, cursor: ChangeCursor) {
        control.withLock { control in
            control.state = .live
            control.everLive = true
            control.position = cursor.high
            control.missingIDs = cursor.missingIDs
            control.caughtUpAt = pollStarted
        }
        recordCaughtUpPoll(started: pollStarted)
        setServingDeadline(pollStarted + configuration.maxStaleness)
        metrics.record(state: .live)
    }

    func recordProgress(_ cursor: ChangeCursor) {
        control.withLock { control in
            control.position = cursor.high
            control.missingIDs = cursor.missingIDs
        }
    }

    /// The `pools` table as it is now: issuer → pool for lookups by `iss`.
    func replacePools(_ pools: [(pool: PoolID, issuer: String)]) {
        control.withLock { control in
            control.interns.setIssuers(pools)
            publish(control.interns)
        }
    }

    /// Stores or removes each identity; returns how many updates were applied.
    @discardableResult
    func apply(_ updates: [CacheUpdate]) -> Int {
        guard !updates.isEmpty else { return 0 }
        // Intern first and publish the grown table to every shard, so no shard ever holds an
        // entry whose numbers its snapshot cannot name.
        let keyed: [(shard: Int, key: ShardKey, resolution: Resolution?)] = control.withLock { control in
            let before = control.interns.size
            var items: [(shard: Int, key: ShardKey, resolution: Resolution?)] = []
            items.reserveCapacity(updates.count)
            for update in updates {
                let pool = control.interns.intern(pool: update.pool)
                if let identity = update.resolution?.identity {
                    control.interns.intern(provider: identity.provider)
                    if let campaign = identity.campaignID { control.interns.intern(campaign: campaign) }
                }
                items.append((shardIndex(update.sub), ShardKey(sub: update.sub, pool: pool), update.resolution))
            }
            if control.interns.size != before { publish(control.interns) }
            return items
        }
        var byShard = [[(key: ShardKey, resolution: Resolution?)]](repeating: [], count: shards.count)
        for item in keyed {
            byShard[item.shard].append((item.key, item.resolution))
        }
        var delta = 0
        for (index, items) in byShard.enumerated() where !items.isEmpty {
            delta += shards[index].storage.withLock { storage -> Int in
                // The index buckets are asked for all at once: at warm-up, a page brings a
                // hundred-odd keys per shard, each otherwise a cache miss waited for alone.
                for item in items { storage.prefetchIndex(item.key) }
                var change = 0
                for item in items {
                    if let resolution = item.resolution {
                        change += storage.store(resolution, at: item.key)
                    } else {
                        change += storage.remove(item.key)
                    }
                }
                return change
            }
        }
        addEntries(delta)
        return updates.count
    }

    /// Where the follower is, for tests and diagnostics.
    var progress: (state: State, position: Int64, missingIDs: Int64, caughtUpAt: ContinuousClock.Instant?, warmups: Int) {
        let now = control.withLock { ($0.state, $0.position, $0.missingIDs, $0.caughtUpAt, $0.warmups) }
        return (now.0 == .live && !isServing() ? .off : now.0, now.1, now.2, now.3, now.4)
    }

    private func publish(_ table: InternTable) {
        let snapshot = InternSnapshot(table)
        for shard in shards {
            shard.storage.withLock { $0.adopt(snapshot) }
        }
    }
}

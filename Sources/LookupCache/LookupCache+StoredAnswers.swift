public import Foundation
public import IdentityMap
import Metrics
import Synchronization

/// A stored answer's fields, read in place from the cache's memory.
///
/// For writers of large batches (the batch lookup's JSON): ``LookupCache/resolve(batch:orElse:)``
/// builds a `Resolution` per item, with a `String` for the username and the email, which was most
/// of a thousand-item batch's time. Text fields here are the arena's UTF-8 bytes, valid only
/// inside the closure that receives the answer.
public struct StoredAnswer {
    public let userID: UUID
    public let userStatus: UserStatus
    public let pool: PoolID
    /// The sub as asked (its canonical text).
    public let sub: String
    /// UTF-8.
    public let username: UnsafeRawBufferPointer
    /// UTF-8; nil when the identity has no email.
    public let email: UnsafeRawBufferPointer?
    public let emailVerified: Bool
    public let provider: String
    public let status: IdentityStatus
    public let linkedAt: Date
    public let unlinkedAt: Date?
    public let via: LinkPath?

    /// An answer from other storage (an answer PostgreSQL gave), so one writer spells both.
    public init(
        userID: UUID, userStatus: UserStatus, pool: PoolID, sub: String, username: UnsafeRawBufferPointer,
        email: UnsafeRawBufferPointer?, emailVerified: Bool, provider: String, status: IdentityStatus, linkedAt: Date,
        unlinkedAt: Date?, via: LinkPath?
    ) {
        self.userID = userID
        self.userStatus = userStatus
        self.pool = pool
        self.sub = sub
        self.username = username
        self.email = email
        self.emailVerified = emailVerified
        self.provider = provider
        self.status = status
        self.linkedAt = linkedAt
        self.unlinkedAt = unlinkedAt
        self.via = via
    }
}

extension LookupCache {
    /// Calls `body` with the stored answer of each reference, in order, while the cache serves.
    /// Returns false, without calling `body`, when memory cannot answer every reference: the
    /// caller then takes ``resolve(batch:orElse:)``, which asks PostgreSQL for what is missing.
    /// Counts nothing; a caller that used every answer calls ``countServedFromMemory(_:)``.
    ///
    /// The answers are first copied out shard by shard (``GatheredAnswers``), each shard's lock
    /// taken once for all of its references, then handed over in order from the copy.
    public func withStoredAnswers(_ references: ArraySlice<IdentityReference>, _ body: (StoredAnswer) -> Void) -> Bool {
        guard isServing(), let gathered = GatheredAnswers(references, from: self) else { return false }
        gathered.forEach(references, body)
        return true
    }

    /// Lookups answered through ``withStoredAnswers(_:_:)``, for the hit ratio.
    public func countServedFromMemory(_ count: Int) {
        metrics.hits.increment(by: count)
    }

    /// What `body` makes of the stored answer for `reference`, or nil when the caller must ask
    /// PostgreSQL (counted as a miss, or as bypassed while the cache does not serve): the single
    /// lookup's ``cachedResolution(for:)`` without building a `Resolution`. `body` runs under the
    /// shard's lock: it should do short work that cannot block (the route writes its JSON).
    public func withStoredAnswer<T>(for reference: IdentityReference, _ body: (StoredAnswer) -> T) -> T? {
        guard isServing() else {
            metrics.bypassed.increment()
            return nil
        }
        let result = withEntry(for: reference) { shard, key, sub in
            shard.storedSlot(for: key).map { stored in
                // The text is the last of the lookup's misses: asked for before the answer's
                // other fields are decoded, it arrives while they are.
                shard.prefetchText(of: stored.packed)
                return shard.withText { arena in
                    body(
                        StoredAnswer(
                            stored.packed, unlinkedAt: stored.unlinkedAt, table: shard.interns.table, pool: key.pool, sub: sub, arena: arena
                        ))
                }
            }
        }
        if result == nil {
            metrics.misses.increment()
        } else {
            metrics.hits.increment()
        }
        return result
    }
}

extension StoredAnswer {
    /// The answer of a packed entry whose text starts at `textOffset` in `arena`.
    init(
        _ packed: PackedIdentity, unlinkedAt: Double?, table: InternTable, pool: UInt32, sub: String, arena: UnsafeRawBufferPointer,
        textOffset: Int? = nil
    ) {
        let start = textOffset ?? Int(packed.textOffset)
        let usernameEnd = start + Int(packed.usernameLength)
        let flags = packed.flags
        self.init(
            userID: packed.user.uuid, userStatus: flags.userStatus, pool: table.pools[Int(pool)], sub: sub,
            username: UnsafeRawBufferPointer(rebasing: arena[start..<usernameEnd]),
            email: packed.emailLength == PackedIdentity.noEmail
                ? nil : UnsafeRawBufferPointer(rebasing: arena[usernameEnd..<usernameEnd + Int(packed.emailLength)]),
            emailVerified: flags.emailVerified, provider: table.providers[Int(packed.provider)], status: flags.identityStatus,
            linkedAt: Date(timeIntervalSinceReferenceDate: packed.linkedAt),
            unlinkedAt: flags.hasUnlinkedAt ? unlinkedAt.map(Date.init(timeIntervalSinceReferenceDate:)) : nil,
            via: flags.via
        )
    }
}

/// A batch's stored answers copied out of the shards, for writing them in order with no lock held.
///
/// Looking references up in the order asked costs a lock and three or four dependent cache
/// misses each (index, entry, text), one reference after the other. Grouped by shard, each lock
/// is taken once per batch, and a shard's lookups run in stages — every index probe, then every
/// entry, then every text — each stage prefetching what the next reads, so the processor waits
/// for a shard's misses together instead of one after another.
/// The copy (about 100 bytes an answer) stays in cache for the writer.
struct GatheredAnswers {
    private struct Entry {
        var packed: PackedIdentity
        var unlinkedAt: Double?
        var textOffset: Int
        var shard: Int
        var pool: UInt32
    }
    private var entries: [Entry]
    private var text: [UInt8] = []
    /// The intern table each visited shard held while its answers were copied.
    private var tables: [InternSnapshot?]

    /// Nil when some reference has no stored answer (or a sub that is not canonical).
    init?(_ references: ArraySlice<IdentityReference>, from cache: LookupCache) {
        let count = references.count
        var subs: [UUIDBits] = []
        var shardOf: [Int] = []
        subs.reserveCapacity(count)
        shardOf.reserveCapacity(count)
        var firstOfShard = [Int](repeating: 0, count: cache.shards.count + 1)
        for reference in references {
            let sub: String
            switch reference {
            case .pool(_, let text), .issuer(_, let text): sub = text
            }
            guard let bits = UUIDBits(canonicalText: sub) else { return nil }
            let shard = cache.shardIndex(bits)
            subs.append(bits)
            shardOf.append(shard)
            firstOfShard[shard + 1] += 1
        }
        for shard in 0..<cache.shards.count { firstOfShard[shard + 1] += firstOfShard[shard] }
        // Positions in the batch, grouped by shard (a counting sort).
        var byShard = [Int](repeating: 0, count: count)
        var next = firstOfShard
        for position in 0..<count {
            byShard[next[shardOf[position]]] = position
            next[shardOf[position]] += 1
        }

        let placeholder = Entry(
            packed: PackedIdentity(
                user: UUIDBits(high: 0, low: 0), linkedAt: 0, textOffset: 0, usernameLength: 0, emailLength: 0, provider: 0,
                campaign: 0, flags: EntryFlags(rawValue: 0)
            ),
            unlinkedAt: nil, textOffset: 0, shard: 0, pool: 0
        )
        entries = [Entry](repeating: placeholder, count: count)
        tables = [InternSnapshot?](repeating: nil, count: cache.shards.count)
        text.reserveCapacity(count * 64)
        let base = references.startIndex
        var keys = subs.map { ShardKey(sub: $0, pool: 0) }
        var slots = [UInt32](repeating: 0, count: count)
        for shard in 0..<cache.shards.count where firstOfShard[shard] < firstOfShard[shard + 1] {
            let positions = byShard[firstOfShard[shard]..<firstOfShard[shard + 1]]
            let complete = cache.shards[shard].storage.withLock { stored -> Bool in
                let interns = stored.interns
                tables[shard] = interns
                var pools = PoolNumbers(table: interns.table)
                // Each stage asks for the lines the next one reads: index buckets, entries, text.
                for position in positions {
                    guard let pool = pools.number(for: references[base + position]) else { return false }
                    keys[position] = ShardKey(sub: subs[position], pool: pool)
                    stored.prefetchIndex(keys[position])
                }
                for position in positions {
                    guard let slot = stored.slot(for: keys[position]) else { return false }
                    slots[position] = slot
                    stored.prefetchEntry(slot)
                }
                for position in positions {
                    let found = stored.entry(slots[position])
                    entries[position] = Entry(
                        packed: found.packed, unlinkedAt: found.unlinkedAt, textOffset: 0, shard: shard, pool: keys[position].pool
                    )
                    stored.prefetchText(of: found.packed)
                }
                stored.withText { arena in
                    for position in positions {
                        let packed = entries[position].packed
                        let start = Int(packed.textOffset)
                        entries[position].textOffset = text.count
                        text.append(contentsOf: arena[start..<start + packed.textLength])
                    }
                }
                return true
            }
            guard complete else { return nil }
        }
    }

    /// `body` with each answer, in the order of `references` (those it was gathered for).
    func forEach(_ references: ArraySlice<IdentityReference>, _ body: (StoredAnswer) -> Void) {
        text.withUnsafeBytes { arena in
            for (entry, reference) in zip(entries, references) {
                let sub: String
                switch reference {
                case .pool(_, let text), .issuer(_, let text): sub = text
                }
                body(
                    StoredAnswer(
                        entry.packed, unlinkedAt: entry.unlinkedAt, table: tables[entry.shard]!.table, pool: entry.pool, sub: sub,
                        arena: arena, textOffset: entry.textOffset
                    )
                )
            }
        }
    }
}

/// Pool numbers of one shard's intern table for a run of references, which nearly always name
/// one pool or issuer: the last name's number is kept, so a batch looks each name up once a shard.
private struct PoolNumbers {
    let table: InternTable
    private var lastPool: (name: String, number: UInt32?)?
    private var lastIssuer: (name: String, number: UInt32?)?

    init(table: InternTable) {
        self.table = table
    }

    mutating func number(for reference: IdentityReference) -> UInt32? {
        switch reference {
        case .pool(let pool, _):
            if let lastPool, lastPool.name == pool.rawValue { return lastPool.number }
            let number = table.pool(named: pool.rawValue)
            lastPool = (pool.rawValue, number)
            return number
        case .issuer(let issuer, _):
            if let lastIssuer, lastIssuer.name == issuer { return lastIssuer.number }
            // As ResolveQueries compares it: trailing slashes do not name another pool.
            let number = table.pool(issuer: Pool.normalizeIssuer(issuer))
            lastIssuer = (issuer, number)
            return number
        }
    }
}

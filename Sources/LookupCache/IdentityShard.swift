import CPrefetch
import Foundation
import IdentityMap

/// `(pool, sub)` in 24 bytes: the pool as its ``InternTable`` number, the sub as 128 bits.
struct ShardKey: Hashable, Sendable {
    var sub: UUIDBits
    var pool: UInt32
}

/// One shard of the read model: a plain value, so it is tested without threads or a database;
/// ``LookupCache`` keeps each behind its own lock.
///
/// Memory per identity, the point of the layout (see also ``PackedIdentity``):
/// - `index`: a ``SlotIndex``, 24 bytes a bucket at 1.33–2.67 buckets per entry (power-of-two
///   sizes, at most 3/4 full): 32–64 bytes;
/// - `slots`: 40 bytes an entry, reserved to the expected count at warm-up (≈ 44, at worst 80);
/// - `text`: username and email bytes back to back, no per-entry `String` allocation; replaced
///   text is garbage until it exceeds half the live bytes, then the arena is rewritten
///   (live ≈ 45 bytes for a 20-byte username and 25-byte email; at worst 1.5× plus growth).
/// About 155 bytes at 1M identities, 235 at worst; a `[Key: Resolution]` with its strings costs
/// several hundred.
struct IdentityShard: Sendable {
    private(set) var interns: InternSnapshot
    private var index = SlotIndex()
    private var slots: [PackedIdentity] = []
    private var freeSlots: [UInt32] = []
    private var text: [UInt8] = []
    private var garbageBytes = 0
    /// `unlinked_at` of the few answers that have one (an identity that resolves is not unlinked,
    /// but nothing in the schema forbids an old time to linger).
    private var unlinkedTimes: [UInt32: Double] = [:]

    /// Below this much garbage the arena is never rewritten (small shards would churn).
    static let compactionFloor = 1 << 16

    init(interns: InternSnapshot) {
        self.interns = interns
    }

    var count: Int { index.count }

    /// The writer publishes a grown table here before storing entries that use its new numbers.
    mutating func adopt(_ interns: InternSnapshot) {
        self.interns = interns
    }

    mutating func removeAll() {
        index.removeAll()
        slots = []
        freeSlots = []
        text = []
        garbageBytes = 0
        unlinkedTimes = [:]
    }

    /// Room for `entries` answers, so warm-up neither rehashes nor doubles arrays past the need.
    mutating func reserveCapacity(entries: Int, textBytes: Int) {
        index.reserveCapacity(entries)
        slots.reserveCapacity(entries)
        text.reserveCapacity(textBytes)
    }

    /// The stored answer, decoded to exactly what ``ResolveQueries`` returns. `sub` is the
    /// canonical text of `key.sub` (the caller has it already, so it is not formatted again).
    func resolution(for key: ShardKey, sub: String) -> Resolution? {
        guard let slot = index[key] else { return nil }
        let packed = slots[Int(slot)]
        let table = interns.table
        let start = Int(packed.textOffset)
        let usernameEnd = start + Int(packed.usernameLength)
        let email: String? =
            packed.emailLength == PackedIdentity.noEmail
            ? nil : String(decoding: text[usernameEnd..<usernameEnd + Int(packed.emailLength)], as: UTF8.self)
        let flags = packed.flags
        return Resolution(
            userID: packed.user.uuid,
            userStatus: flags.userStatus,
            identity: Identity(
                pool: table.pools[Int(key.pool)],
                sub: sub,
                username: String(decoding: text[start..<usernameEnd], as: UTF8.self),
                email: email,
                emailVerified: flags.emailVerified,
                provider: table.providers[Int(packed.provider)],
                status: flags.identityStatus,
                linkedAt: Date(timeIntervalSinceReferenceDate: packed.linkedAt),
                unlinkedAt: flags.hasUnlinkedAt ? unlinkedTimes[slot].map(Date.init(timeIntervalSinceReferenceDate:)) : nil,
                via: flags.via,
                campaignID: table.campaign(code: packed.campaign)
            )
        )
    }

    /// The packed entry for `key` and its `unlinked_at`, for readers outside this file.
    func storedSlot(for key: ShardKey) -> (packed: PackedIdentity, unlinkedAt: Double?)? {
        guard let slot = index[key] else { return nil }
        let packed = slots[Int(slot)]
        return (packed, packed.flags.hasUnlinkedAt ? unlinkedTimes[slot] : nil)
    }

    // MARK: A batch's lookups in stages (``GatheredAnswers``): each stage asks for the lines the
    // next one reads, so a shard's lookups wait for memory together instead of one by one.

    func prefetchIndex(_ key: ShardKey) {
        index.prefetch(key)
    }

    func slot(for key: ShardKey) -> UInt32? {
        index[key]
    }

    func prefetchEntry(_ slot: UInt32) {
        slots.withUnsafeBytes { entries in
            let start = Int(slot) * MemoryLayout<PackedIdentity>.stride
            stableid_prefetch(entries.baseAddress! + start)
            stableid_prefetch(entries.baseAddress! + start + MemoryLayout<PackedIdentity>.size - 1)
        }
    }

    func entry(_ slot: UInt32) -> (packed: PackedIdentity, unlinkedAt: Double?) {
        let packed = slots[Int(slot)]
        return (packed, packed.flags.hasUnlinkedAt ? unlinkedTimes[slot] : nil)
    }

    func prefetchText(of packed: PackedIdentity) {
        guard packed.textLength > 0 else { return }
        text.withUnsafeBytes { arena in
            stableid_prefetch(arena.baseAddress! + Int(packed.textOffset))
            stableid_prefetch(arena.baseAddress! + Int(packed.textOffset) + packed.textLength - 1)
        }
    }

    /// The text arena's bytes, valid inside `body`.
    func withText<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        text.withUnsafeBytes(body)
    }

    /// Stores the answer for `key` and returns the change in the number of entries (1 new, 0
    /// replaced, -1 when an answer that cannot be packed replaced a stored one — then the key is
    /// removed, so lookups go to PostgreSQL instead of seeing the old answer).
    ///
    /// The pool, provider and campaign must be interned in ``interns`` already.
    @discardableResult
    mutating func store(_ resolution: Resolution, at key: ShardKey) -> Int {
        let identity = resolution.identity
        let table = interns.table
        let emailLength = identity.email.map { $0.utf8.count } ?? 0
        guard let provider = table.provider(named: identity.provider),
            let campaign = table.campaignCode(identity.campaignID),
            let flags = EntryFlags(
                userStatus: resolution.userStatus, identityStatus: identity.status, emailVerified: identity.emailVerified,
                via: identity.via, hasUnlinkedAt: identity.unlinkedAt != nil
            ),
            let usernameLength = UInt16(exactly: identity.username.utf8.count),
            emailLength < Int(PackedIdentity.noEmail)
        else { return remove(key) }
        let existing = index[key]
        let offset: UInt32
        if let existing, textMatches(slots[Int(existing)], username: identity.username, email: identity.email) {
            offset = slots[Int(existing)].textOffset
        } else {
            let needed = Int(usernameLength) + emailLength
            guard text.count + needed <= Int(UInt32.max) else { return remove(key) }
            if let existing { garbageBytes += slots[Int(existing)].textLength }
            offset = UInt32(text.count)
            text.append(contentsOf: identity.username.utf8)
            if let email = identity.email { text.append(contentsOf: email.utf8) }
        }
        let packed = PackedIdentity(
            user: UUIDBits(resolution.userID),
            linkedAt: identity.linkedAt.timeIntervalSinceReferenceDate,
            textOffset: offset,
            usernameLength: usernameLength,
            emailLength: identity.email == nil ? PackedIdentity.noEmail : UInt16(emailLength),
            provider: provider,
            campaign: campaign,
            flags: flags
        )
        let slot: UInt32
        if let existing {
            slot = existing
            slots[Int(slot)] = packed
        } else if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = packed
        } else {
            guard slots.count <= Int(SlotIndex.maxSlot) else { return remove(key) }
            slot = UInt32(slots.count)
            slots.append(packed)
        }
        if let unlinkedAt = identity.unlinkedAt {
            unlinkedTimes[slot] = unlinkedAt.timeIntervalSinceReferenceDate
        } else if !unlinkedTimes.isEmpty {
            unlinkedTimes.removeValue(forKey: slot)
        }
        if existing == nil { index.set(slot, for: key) }
        compactIfWasteful()
        return existing == nil ? 1 : 0
    }

    /// Forgets `key`; returns -1 when it was stored, else 0.
    @discardableResult
    mutating func remove(_ key: ShardKey) -> Int {
        guard let slot = index.remove(key) else { return 0 }
        garbageBytes += slots[Int(slot)].textLength
        unlinkedTimes.removeValue(forKey: slot)
        freeSlots.append(slot)
        compactIfWasteful()
        return -1
    }

    /// Bytes held, for tests and the memory budget: what the collections reserved, not what they
    /// use.
    var reservedBytes: Int {
        index.reservedBytes + slots.capacity * MemoryLayout<PackedIdentity>.stride + text.capacity
            + freeSlots.capacity * MemoryLayout<UInt32>.stride
            + unlinkedTimes.capacity * (MemoryLayout<UInt32>.stride + MemoryLayout<Double>.stride)
    }

    var textGarbage: Int { garbageBytes }

    private func textMatches(_ packed: PackedIdentity, username: String, email: String?) -> Bool {
        let start = Int(packed.textOffset)
        let usernameEnd = start + Int(packed.usernameLength)
        guard text[start..<usernameEnd].elementsEqual(username.utf8) else { return false }
        switch (email, packed.emailLength == PackedIdentity.noEmail) {
        case (nil, true): return true
        case (let email?, false): return text[usernameEnd..<usernameEnd + Int(packed.emailLength)].elementsEqual(email.utf8)
        default: return false
        }
    }

    /// Rewrites the arena once garbage outweighs half the live text, so updates (a re-linked
    /// identity, an erased email) cannot grow it without bound; the cost is proportional to the
    /// garbage that triggered it.
    private mutating func compactIfWasteful() {
        let live = text.count - garbageBytes
        guard garbageBytes > Self.compactionFloor, garbageBytes > live / 2 else { return }
        var compacted: [UInt8] = []
        compacted.reserveCapacity(live + live / 8)
        for slot in index.slots {
            let position = Int(slot)
            let start = Int(slots[position].textOffset)
            let length = slots[position].textLength
            slots[position].textOffset = UInt32(compacted.count)
            compacted.append(contentsOf: text[start..<start + length])
        }
        text = compacted
        garbageBytes = 0
    }
}

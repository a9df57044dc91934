public import Foundation
public import IdentityMap
import Metrics

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
}

extension LookupCache {
    /// Calls `body` with the stored answer of each reference, in order, while the cache serves.
    /// Returns false — and calls `body` no more — at the first reference memory cannot answer: the
    /// caller then takes ``resolve(batch:orElse:)``, which asks PostgreSQL for what is missing.
    /// Counts nothing; a caller that used every answer calls ``countServedFromMemory(_:)``.
    public func withStoredAnswers(_ references: ArraySlice<IdentityReference>, _ body: (StoredAnswer) -> Void) -> Bool {
        guard isServing() else { return false }
        for reference in references {
            guard withStoredAnswer(for: reference, body) else { return false }
        }
        return true
    }

    /// Lookups answered through ``withStoredAnswers(_:_:)``, for the hit ratio.
    public func countServedFromMemory(_ count: Int) {
        metrics.hits.increment(by: count)
    }

    private func withStoredAnswer(for reference: IdentityReference, _ body: (StoredAnswer) -> Void) -> Bool {
        withEntry(for: reference) { shard, key, sub in shard.withStoredAnswer(for: key, sub: sub, body) ? true : nil } ?? false
    }
}

extension IdentityShard {
    /// ``resolution(for:sub:)`` without decoding: the fields as stored, text in place.
    func withStoredAnswer(for key: ShardKey, sub: String, _ body: (StoredAnswer) -> Void) -> Bool {
        guard let slot = storedSlot(for: key) else { return false }
        let packed = slot.packed
        let table = interns.table
        let flags = packed.flags
        withText { arena in
            let start = Int(packed.textOffset)
            let usernameEnd = start + Int(packed.usernameLength)
            let email =
                packed.emailLength == PackedIdentity.noEmail
                ? nil : UnsafeRawBufferPointer(rebasing: arena[usernameEnd..<usernameEnd + Int(packed.emailLength)])
            body(
                StoredAnswer(
                    userID: packed.user.uuid, userStatus: flags.userStatus, pool: table.pools[Int(key.pool)], sub: sub,
                    username: UnsafeRawBufferPointer(rebasing: arena[start..<usernameEnd]), email: email,
                    emailVerified: flags.emailVerified, provider: table.providers[Int(packed.provider)], status: flags.identityStatus,
                    linkedAt: Date(timeIntervalSinceReferenceDate: packed.linkedAt),
                    unlinkedAt: flags.hasUnlinkedAt ? slot.unlinkedAt.map(Date.init(timeIntervalSinceReferenceDate:)) : nil,
                    via: flags.via
                )
            )
        }
        return true
    }
}

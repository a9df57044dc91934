import ChangeFeed
import Synchronization

/// A consumer catching up asks for page after page, each from the `next` of the one before, and
/// spends each page's round trip parsing it while the server waits, then waits itself while the
/// server reads and encodes the next. So when a page stops at its limit with more ready
/// (`has_more`), the next page (same `limit`) is read and encoded at once, in the background, and
/// kept here for the request that asks for it: the consumer's parsing and the server's reading
/// overlap, and that request is answered without a database round trip.
///
/// A page read ahead is exactly the answer a request at the time of the read would have had —
/// the cursor checked, the gap rule applied with that read's clock — so handing it out a little
/// later changes nothing a consumer can tell: it never skips (a change committed since comes after
/// the page's last position and is read from its `next`). Entries are used once and kept only
/// ``lifetime``; at most ``capacity`` are kept (the oldest goes first). A read ahead that failed
/// is dropped and the request reads for itself, so errors are answered as always.
final class ChangePageReadAhead: Sendable {
    struct Key: Hashable, Sendable {
        var after: FeedCursor
        var limit: Int
    }

    /// A page and the body answering it.
    struct Answer: Sendable {
        var page: ChangeFeedStore.Page
        var body: [UInt8]
        /// When the page was read (this process's clock): the publish-lag metric adds the time
        /// it was kept to the read's own clock.
        var readAt = ContinuousClock.now
    }

    private struct Entry {
        var task: Task<Answer, any Error>
        var started: ContinuousClock.Instant
    }

    /// A consumer asks for the next page within milliseconds; one that comes back later reads afresh.
    static let lifetime: Duration = .seconds(5)
    /// Consumers catching up at once in one process that each keep a page read ahead.
    static let capacity = 16

    private let entries = Mutex<[Key: Entry]>([:])

    /// The page read ahead for `key`, if one was started within ``lifetime``; taken out (used once).
    /// Nil when none was, or when it failed.
    func take(_ key: Key) async -> Answer? {
        let (entry, expired) = entries.withLock { entries in
            (entries.removeValue(forKey: key), Self.removeExpired(from: &entries))
        }
        expired.forEach { $0.task.cancel() }
        guard let entry, ContinuousClock.now - entry.started < Self.lifetime else {
            entry?.task.cancel()
            return nil
        }
        return try? await entry.task.value
    }

    /// Starts reading `key`'s page with `read`, unless it is being read already. Entries past
    /// their lifetime, and the oldest when ``capacity`` are held, are dropped (a read still
    /// running finishes on its own; its page is never handed out).
    func start(_ key: Key, read: @escaping @Sendable () async throws -> Answer) {
        let dropped = entries.withLock { entries -> [Entry] in
            let now = ContinuousClock.now
            var dropped = Self.removeExpired(from: &entries)
            guard entries[key] == nil else { return dropped }
            if entries.count >= Self.capacity, let oldest = entries.min(by: { $0.value.started < $1.value.started }) {
                dropped.append(entries.removeValue(forKey: oldest.key)!)
            }
            entries[key] = Entry(task: Task { try await read() }, started: now)
            return dropped
        }
        dropped.forEach { $0.task.cancel() }
    }

    private static func removeExpired(from entries: inout [Key: Entry]) -> [Entry] {
        let now = ContinuousClock.now
        let expired = entries.filter { now - $0.value.started >= lifetime }
        for key in expired.keys { entries.removeValue(forKey: key) }
        return Array(expired.values)
    }

    /// Drops every page held (a drain: nothing more will be asked of this server).
    func removeAll() {
        entries.withLock { entries in
            let held = entries.values
            entries = [:]
            return Array(held)
        }.forEach { $0.task.cancel() }
    }
}

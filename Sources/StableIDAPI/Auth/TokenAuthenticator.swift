import Foundation
public import IdentityMap
import Synchronization

/// Checks bearer tokens, with a short-lived cache so a lookup costs no extra database round trip.
///
/// Revocation must take effect on every replica at once, so the cache is only used while the
/// ``TokenRevocationListener`` is connected (it clears entries on each `NOTIFY`); while it is not,
/// every request goes to the database. The TTL bounds staleness even if a notification were lost.
public final class TokenAuthenticator: Sendable {
    private struct Entry {
        var token: APIToken
        var expires: ContinuousClock.Instant
    }

    private let store: TokenStore
    private let ttl: Duration
    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var cacheEnabled = false
        /// Bumped by every revocation and every switch of the cache. A token read from the
        /// database is cached only if no revocation was heard while it was being read: a read
        /// that began before a revocation committed must not outlive it in the cache.
        var generation: UInt64 = 0
    }
    private let state = Mutex(State())
    static let maxEntries = 10_000

    public init(store: TokenStore, ttl: Duration = .seconds(30)) {
        self.store = store
        self.ttl = ttl
    }

    public func authenticate(_ secret: TokenSecret) async throws -> APIToken? {
        let hash = secret.hash
        let now = ContinuousClock.now
        let (cached, generation): (APIToken?, UInt64) = state.withLock { state in
            guard state.cacheEnabled, let entry = state.entries[hash], entry.expires > now else { return (nil, state.generation) }
            return (entry.token, state.generation)
        }
        if let cached { return cached }
        guard let token = try await store.authenticate(secret) else { return nil }
        state.withLock { state in
            guard state.cacheEnabled, state.generation == generation else { return }
            if state.entries.count >= Self.maxEntries { state.entries.removeAll() }
            state.entries[hash] = Entry(token: token, expires: now + ttl)
        }
        return token
    }

    /// Called by the listener: the cache may be used only while revocations can reach it.
    func setCacheEnabled(_ enabled: Bool) {
        state.withLock { state in
            state.cacheEnabled = enabled
            state.generation &+= 1
            if !enabled { state.entries.removeAll() }
        }
    }

    func revoked(tokenID: UUID?) {
        state.withLock { state in
            state.generation &+= 1
            guard let tokenID else {
                state.entries.removeAll()
                return
            }
            state.entries = state.entries.filter { $0.value.token.id != tokenID }
        }
    }
}

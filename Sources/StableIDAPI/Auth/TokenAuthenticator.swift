import Foundation
import IdentityMap
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
    private let state = Mutex<(entries: [[UInt8]: Entry], cacheEnabled: Bool)>(([:], false))
    static let maxEntries = 10_000

    public init(store: TokenStore, ttl: Duration = .seconds(30)) {
        self.store = store
        self.ttl = ttl
    }

    public func authenticate(_ secret: TokenSecret) async throws -> APIToken? {
        let hash = secret.hash
        let now = ContinuousClock.now
        let cached: APIToken? = state.withLock { state in
            guard state.cacheEnabled, let entry = state.entries[hash], entry.expires > now else { return nil }
            return entry.token
        }
        if let cached { return cached }
        guard let token = try await store.authenticate(secret) else { return nil }
        state.withLock { state in
            guard state.cacheEnabled else { return }
            if state.entries.count >= Self.maxEntries { state.entries.removeAll() }
            state.entries[hash] = Entry(token: token, expires: now + ttl)
        }
        return token
    }

    /// Called by the listener: the cache may be used only while revocations can reach it.
    func setCacheEnabled(_ enabled: Bool) {
        state.withLock { state in
            state.cacheEnabled = enabled
            if !enabled { state.entries.removeAll() }
        }
    }

    func revoked(tokenID: UUID?) {
        state.withLock { state in
            guard let tokenID else {
                state.entries.removeAll()
                return
            }
            state.entries = state.entries.filter { $0.value.token.id != tokenID }
        }
    }
}

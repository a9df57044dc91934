import Foundation
public import IdentityMap
import Postgres
import Synchronization

/// Checks bearer tokens, with a short-lived cache so a lookup costs no extra database round trip,
/// and with the database kept out of reach of a flood of made-up tokens.
///
/// Revocation must take effect on every replica at once, so the cache of known tokens is only used
/// while the ``TokenRevocationListener`` is connected (it clears entries on each `NOTIFY`); while
/// it is not, every request goes to the database. The TTL bounds staleness even if a notification
/// were lost.
///
/// Unknown tokens, in three layers:
/// 1. ``TokenSecret/shape(key:)``: a token made now carries a checksum keyed by the
///    installation's ``TokenChecksumKey``, so a random, mistyped or made-up one is refused with no
///    database work at all, even by someone who read the code.
/// 2. A negative cache (``UnknownTokenCache``): a hash the database said is unknown is not asked
///    again for `unknownTTL`. Its one risk is a token that starts to exist within that time; a
///    new token's secret is random and shown only after its creation commits, so no one can have
///    sent it before — except through a replica that lagged behind the creation (the primary
///    unreachable). A token made through this server clears its entry (``tokenCreated(_:)``), and
///    the TTL is short (10 s) for tokens made elsewhere (`stableid token create`, another server).
///    Revocation needs nothing here: it only ever makes a token unknown.
/// 3. A bound on database checks of legacy-shaped tokens (no checksum) that this server has not
///    seen valid: at most `maxUnvouchedChecks` at once, the rest answered `.shed` (503 with
///    `Retry-After`: a real token so shed is retried, not dropped as unknown) at once. Requests
///    with the same token share one check, so a backend's burst after a deploy takes one slot.
///    A flood of distinct legacy-shaped tokens, each passing the shape check and missing the
///    negative cache, then holds at most that many connections, and clients with other tokens
///    keep the rest of the pool. A legacy token seen valid since start is admitted past the bound
///    (only to be checked: a revoked one is still refused), so its clients are not shed when the
///    cache is off; a legacy client not yet seen may be shed during a flood — replace such tokens.
///    Checksummed tokens are not bounded here: a valid client's first request, and every request
///    while the cache is off, must not compete with a flood, and made-up ones fail the MAC.
public final class TokenAuthenticator: Sendable {
    /// What a check found.
    public enum Outcome: Sendable, Equatable {
        case authenticated(APIToken)
        /// Unknown or revoked (said by the database now or within the negative TTL).
        case unknown
        /// Not checked: too many legacy-shaped tokens this server has not seen valid are being
        /// checked already.
        case shed
    }

    private struct Entry {
        var token: APIToken
        var expires: ContinuousClock.Instant
    }

    private let store: TokenStore
    private let ttl: Duration
    private let unknownTTL: Duration
    let maxUnvouchedChecks: Int
    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var cacheEnabled = false
        /// Bumped by every revocation and every switch of the cache. A token read from the
        /// database is cached only if no revocation was heard while it was being read: a read
        /// that began before a revocation committed must not outlive it in the cache.
        var generation: UInt64 = 0
        var unknown = UnknownTokenCache(capacity: TokenAuthenticator.maxUnknownEntries)
        /// Bumped by every token made through this server: an "unknown" read that began before
        /// must not be remembered after it.
        var creations: UInt64 = 0
        /// Legacy-shaped hashes the database has said are (or were) tokens: admitted past the
        /// bound on unvouched checks. Grows only with real tokens, so it stays small.
        var vouched: Set<[UInt8]> = []
        var unvouchedChecks = 0
        /// One database check per hash at a time: concurrent requests with the same token (a
        /// backend's burst right after a deploy) wait for it instead of each taking a slot.
        var inFlight: [[UInt8]: Task<APIToken?, any Error>] = [:]
        /// Read from the database at the first check that needs it; until then (the database
        /// down at start) a token of the new length is checked by the database.
        var checksumKey: TokenChecksumKey?
    }
    private let state = Mutex(State())
    static let maxEntries = 10_000
    static let maxUnknownEntries = 32_768

    /// `maxUnvouchedChecks`: by default a quarter of the primary pool, 1 to 4, so such checks can
    /// never take the whole pool.
    public init(store: TokenStore, ttl: Duration = .seconds(30), unknownTTL: Duration = .seconds(10), maxUnvouchedChecks: Int? = nil) {
        self.store = store
        self.ttl = ttl
        self.unknownTTL = unknownTTL
        self.maxUnvouchedChecks = max(1, maxUnvouchedChecks ?? min(4, store.database.primary.configuration.maxConnections / 4))
    }

    private enum Admission {
        case answered(Outcome)
        /// Another request is checking the same hash: wait for its answer.
        case join(Task<APIToken?, any Error>)
        case check(Task<APIToken?, any Error>, generation: UInt64, creations: UInt64, unvouched: Bool)
    }

    /// Any bearer value: one that is not shaped like a token (``TokenSecret/shape``) is `.unknown`
    /// without database work.
    public func authenticate(_ secret: TokenSecret) async throws -> Outcome {
        let hash = secret.hash
        let now = ContinuousClock.now
        // A cached token was checked by the database, so its shape needs no second look: the hot
        // path costs one SHA-256 and one lock.
        let cached: APIToken? = state.withLock { state in
            guard state.cacheEnabled, let entry = state.entries[hash], entry.expires > now else { return nil }
            return entry.token
        }
        if let cached { return .authenticated(cached) }
        let shape = secret.shape(key: try? await checksumKey())
        guard shape != .malformed else { return .unknown }
        let store = self.store
        let admission: Admission = state.withLock { state in
            if state.unknown.contains(hash, at: now) { return .answered(.unknown) }
            if let running = state.inFlight[hash] { return .join(running) }
            let unvouched = shape == .legacy && !state.vouched.contains(hash)
            if unvouched {
                guard state.unvouchedChecks < maxUnvouchedChecks else { return .answered(.shed) }
                state.unvouchedChecks += 1
            }
            // Unstructured so that a caller who gives up does not cancel the others' answer.
            let check = Task { try await store.authenticate(secret) }
            state.inFlight[hash] = check
            return .check(check, generation: state.generation, creations: state.creations, unvouched: unvouched)
        }
        let check: Task<APIToken?, any Error>
        let generation: UInt64
        let creations: UInt64
        let unvouched: Bool
        switch admission {
        case .answered(let outcome):
            return outcome
        case .join(let running):
            return try await running.value.map(Outcome.authenticated) ?? .unknown
        case .check(let task, let g, let c, let u):
            (check, generation, creations, unvouched) = (task, g, c, u)
        }
        let token: APIToken?
        do {
            token = try await check.value
        } catch {
            state.withLock { state in
                state.inFlight[hash] = nil
                if unvouched { state.unvouchedChecks -= 1 }
            }
            throw error
        }
        state.withLock { state in
            state.inFlight[hash] = nil
            if unvouched { state.unvouchedChecks -= 1 }
            guard let token else {
                if state.creations == creations { state.unknown.insert(hash, until: now + unknownTTL) }
                return
            }
            if shape == .legacy, state.vouched.count < Self.maxEntries { state.vouched.insert(hash) }
            guard state.cacheEnabled, state.generation == generation else { return }
            if state.entries.count >= Self.maxEntries { state.entries.removeAll() }
            state.entries[hash] = Entry(token: token, expires: now + ttl)
        }
        return token.map(Outcome.authenticated) ?? .unknown
    }

    /// The installation's checksum key, read once.
    private func checksumKey() async throws -> TokenChecksumKey {
        if let key = state.withLock({ $0.checksumKey }) { return key }
        let key = try await store.checksumKey()
        state.withLock { $0.checksumKey = key }
        return key
    }

    /// A token was just made through this server: its hash may no longer be remembered as unknown.
    func tokenCreated(_ secret: TokenSecret) {
        let hash = secret.hash
        state.withLock { state in
            state.creations &+= 1
            state.unknown.remove(hash)
        }
    }

    /// Called by the listener: the cache may be used only while revocations can reach it.
    func setCacheEnabled(_ enabled: Bool) {
        state.withLock { state in
            state.cacheEnabled = enabled
            state.generation &+= 1
            if !enabled { state.entries.removeAll() }
        }
    }

    /// Whether cached answers are used now (the listener is connected): for tests.
    var isCacheEnabled: Bool {
        state.withLock { $0.cacheEnabled }
    }

    /// Database checks of unvouched legacy-shaped tokens in flight now: for tests.
    var unvouchedChecksInFlight: Int {
        state.withLock { $0.unvouchedChecks }
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

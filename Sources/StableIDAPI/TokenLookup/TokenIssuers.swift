import Cognito
import CognitoIngest
import IdentityMap
import Synchronization

/// The registered pools by the `iss` of their tokens, as token verification needs them: each
/// map `Pool` as Cognito's `TokenIssuer` — its JWKS URL from the pool's Cognito endpoint settings
/// (`PoolClients`, the same the pool's API calls use), its allow-list of app clients.
///
/// Read whole from `pools` and kept for ``ttl``: pools are few, and a flood of tokens that name
/// made-up issuers must cost no query each. A change made through this server (a pool
/// registered, an allow-list set) counts at once (``invalidate()``), one made elsewhere (the CLI,
/// another server) within ``ttl``. Callers that find the copy too old while it is being read
/// wait for that one read.
final class TokenIssuers: Sendable {
    static let ttl: Duration = .seconds(5)

    private struct State {
        var byIssuer: [String: TokenIssuer] = [:]
        var readAt: ContinuousClock.Instant?
        var reading: Task<[String: TokenIssuer], any Error>?
        /// Counts ``invalidate()`` calls: a read that started before one is not kept.
        var generation = 0
    }

    private enum Step: Sendable {
        case ready(TokenIssuer?)
        case wait(Task<[String: TokenIssuer], any Error>)
    }

    private let pools: PoolStore
    private let clients: PoolClients
    private let state = Mutex(State())

    init(pools: PoolStore, clients: PoolClients) {
        self.pools = pools
        self.clients = clients
    }

    /// The registered pool whose tokens carry exactly `iss`, nil when none does.
    func issuer(_ iss: String) async throws -> TokenIssuer? {
        let now = ContinuousClock.now
        let step = state.withLock { state -> Step in
            if let readAt = state.readAt, now - readAt < Self.ttl { return .ready(state.byIssuer[iss]) }
            if let reading = state.reading { return .wait(reading) }
            let generation = state.generation
            let reading = Task { try await self.read(generation: generation) }
            state.reading = reading
            return .wait(reading)
        }
        switch step {
        case .ready(let issuer): return issuer
        case .wait(let reading): return try await reading.value[iss]
        }
    }

    /// Forgets the copy: the next lookup reads the pools again (after a pool write through this
    /// server, so its own change counts at once).
    func invalidate() {
        state.withLock { state in
            state.generation += 1
            state.readAt = nil
            // A read in flight may predate the change: the next caller starts another.
            state.reading = nil
        }
    }

    private func read(generation: Int) async throws -> [String: TokenIssuer] {
        let started = ContinuousClock.now
        do {
            var byIssuer: [String: TokenIssuer] = [:]
            for pool in try await pools.list(fromPrimary: true) {
                byIssuer[pool.issuer] = TokenIssuer(
                    poolID: pool.id.rawValue, issuer: pool.issuer,
                    jwksURL: try clients.configuration(for: pool).jwksURL(poolID: pool.id.rawValue),
                    allowedClientIDs: pool.tokenClientIDs.map { Set($0) }
                )
            }
            state.withLock { state in
                guard state.generation == generation else { return }
                state.byIssuer = byIssuer
                state.readAt = started
                state.reading = nil
            }
            return byIssuer
        } catch {
            state.withLock { state in
                if state.generation == generation { state.reading = nil }
            }
            throw error
        }
    }
}

import IdentityMap
import Synchronization

/// The registered pools the triggers have found, kept for the life of the process: every trigger
/// event asks whether its `userPoolId` is registered, and that was a round trip to the reader per
/// event (links and migrations included).
///
/// Only what was found is kept, never an absence, so a pool registered a moment ago is taken at
/// once. A pool is never removed (sql/0013 revokes the service's DELETE grant) and its id,
/// region and issuer never change; the one thing that does, the app clients token lookups accept
/// (`PATCH /v1/pools/{id}`), the triggers never read from here — so a kept pool answers every
/// question asked of it exactly. The map holds one entry per registered pool (a handful).
final class RegisteredPools: Sendable {
    private let found = Mutex<[PoolID: Pool]>([:])

    /// The pool, from memory once it has been found; `load` asks the database otherwise.
    func pool(_ id: PoolID, load: () async throws -> Pool?) async rethrows -> Pool? {
        if let pool = found.withLock({ $0[id] }) { return pool }
        guard let pool = try await load() else { return nil }
        found.withLock { $0[id] = pool }
        return pool
    }
}

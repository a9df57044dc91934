import IdentityMap
import Synchronization

/// The registered pools the triggers have found, kept for the life of the process: every trigger
/// event asks whether its `userPoolId` is registered, and that was a round trip to the reader per
/// event (links and migrations included).
///
/// Only what was found is kept, never an absence, so a pool registered a moment ago is taken at
/// once. Keeping a found pool forever is exact, not a staleness bound: a pool row is written once
/// (`pool add`) and never changed or removed — the service has no UPDATE or DELETE of `pools`
/// anywhere, and sql/0013 revokes its DELETE grant. The map holds one entry per registered pool
/// (a handful).
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

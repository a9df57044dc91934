import Foundation
import Postgres
import Synchronization

/// Coalesces concurrent single lookups into batch queries.
///
/// Under load, most of a lookup's cost is not PostgreSQL's index probe but the trip to it: a hop
/// to a connection thread, a network round trip, and a hop back. Here a lookup that finds no batch
/// running starts one; the batch leases a connection and, on that connection's thread, keeps
/// taking whatever lookups queued up meanwhile and answering them with one `unnest` query each
/// round, until the queue is empty. So under load the thread hops and round trips track the
/// number of batches, not the number of requests. At low load a lookup runs alone and at once
/// (a batch of one uses the single-row statement).
public final class ResolveCoalescer: Sendable {
    private struct Pending {
        var reference: IdentityReference
        var continuation: CheckedContinuation<Resolution?, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var runningBatches = 0
    }

    private let database: Database
    private let maxConcurrentBatches: Int
    private let maxQueued: Int
    private let state = Mutex(State())

    /// `maxConcurrentBatches` bounds the connections lookups hold at once; more concurrent
    /// requests make the batches bigger instead. `maxQueued` bounds the lookups waiting for a
    /// batch: past it a lookup is refused at once (``Overloaded``) instead of queueing behind a
    /// database that is not keeping up.
    public init(store: IdentityMapStore, maxConcurrentBatches: Int = 1, maxQueued: Int = 10_000) {
        self.database = store.database
        self.maxConcurrentBatches = max(1, maxConcurrentBatches)
        self.maxQueued = max(1, maxQueued)
    }

    /// Lookups are queued beyond the configured bound: shed load (503) and let the caller retry.
    public struct Overloaded: Error, Sendable {}

    public func resolve(_ reference: IdentityReference) async throws -> Resolution? {
        try await withCheckedThrowingContinuation { continuation in
            let startBatch = state.withLock { state -> Bool? in
                guard state.queue.count < maxQueued else { return nil }
                state.queue.append(Pending(reference: reference, continuation: continuation))
                guard state.runningBatches < maxConcurrentBatches else { return false }
                state.runningBatches += 1
                return true
            }
            switch startBatch {
            case nil: continuation.resume(throwing: Overloaded())
            case true?: Task { await self.runBatches() }
            case false?: break
            }
        }
    }

    /// Takes up to one batch; when the queue is empty, gives up the batch slot (under the same
    /// lock as the enqueue check, so no lookup is ever left without a running batch).
    private func takeBatch() -> [Pending]? {
        state.withLock { state in
            guard !state.queue.isEmpty else {
                state.runningBatches -= 1
                return nil
            }
            let count = min(state.queue.count, ResolveQueries.maxBatch)
            let taken = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return taken
        }
    }

    private func runBatches() async {
        do {
            try await database.reader.withConnection { connection in
                while let batch = self.takeBatch() {
                    do {
                        if batch.count == 1 {
                            batch[0].continuation.resume(returning: try ResolveQueries.resolve(batch[0].reference, on: connection))
                        } else {
                            let results = try ResolveQueries.resolve(batch: batch.map(\.reference), on: connection)
                            for (pending, result) in zip(batch, results) { pending.continuation.resume(returning: result) }
                        }
                    } catch let error as PostgresError
                        where error.sqlState?.hasPrefix("22") == true && connection.isHealthy && batch.count > 1
                    {
                        // One lookup must never fail another client's: answer each alone, so
                        // whatever broke the batch fails only its own caller.
                        for pending in batch {
                            pending.continuation.resume(with: Result { try ResolveQueries.resolve(pending.reference, on: connection) })
                        }
                    } catch {
                        for pending in batch { pending.continuation.resume(throwing: error) }
                        // Give the connection back (the pool replaces it if broken); the batch
                        // slot is still ours and is released below with whatever is queued.
                        throw error
                    }
                }
            }
        } catch {
            // No connection (database down, pool exhausted) or a failed batch: fail what is queued
            // now rather than leave callers waiting; new lookups start a fresh batch.
            let stranded: [Pending] = state.withLock { state in
                state.runningBatches -= 1
                defer { state.queue.removeAll() }
                return state.queue
            }
            for pending in stranded { pending.continuation.resume(throwing: error) }
        }
    }
}

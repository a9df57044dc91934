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
    private let state = Mutex(State())

    /// `maxConcurrentBatches` bounds the connections lookups hold at once; more concurrent
    /// requests make the batches bigger instead.
    public init(store: IdentityMapStore, maxConcurrentBatches: Int = 1) {
        self.database = store.database
        self.maxConcurrentBatches = max(1, maxConcurrentBatches)
    }

    public func resolve(_ reference: IdentityReference) async throws -> Resolution? {
        try await withCheckedThrowingContinuation { continuation in
            let startBatch = state.withLock { state -> Bool in
                state.queue.append(Pending(reference: reference, continuation: continuation))
                guard state.runningBatches < maxConcurrentBatches else { return false }
                state.runningBatches += 1
                return true
            }
            if startBatch {
                Task { await self.runBatches() }
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

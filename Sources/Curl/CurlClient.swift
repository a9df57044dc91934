import Dispatch
import Support
import Synchronization

/// A small pool of libcurl easy handles for async code.
///
/// libcurl's easy interface blocks, so each handle lives on its own ``BlockingExecutor`` and
/// callers suspend while a transfer runs; handles are reused so connections (and TLS sessions)
/// are too. A request's timeout bounds the whole call, the wait for a free handle included, and
/// a cancelled caller returns at once, wherever it was.
public final class CurlClient: Sendable {
    private final class Slot: Sendable {
        let executor: BlockingExecutor
        let handle: CurlHandle
        init(index: Int) {
            executor = BlockingExecutor(label: "stableid.curl.\(index)")
            handle = CurlHandle()
        }
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Slot, any Error>
    }

    private struct State {
        var idle: [Slot]
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
    }

    /// How long a caller waits past the request's timeout for libcurl to give up by itself, before
    /// it stops waiting (a blocking DNS lookup can outlast `CURLOPT_TIMEOUT_MS`).
    private static let grace: Duration = .seconds(1)

    private let state: Mutex<State>

    public init(maxConcurrentTransfers: Int = 8) {
        state = Mutex(State(idle: (0..<max(1, maxConcurrentTransfers)).map(Slot.init(index:))))
    }

    public func send(_ request: CurlRequest) async throws(CurlError) -> CurlResponse {
        let deadline = ContinuousClock.now + request.timeout
        let slot = try await acquire(until: deadline)
        var request = request
        // What is left of the timeout after waiting for the handle; at least 1 ms for libcurl.
        request.timeout = max(.milliseconds(1), deadline - ContinuousClock.now)
        let transfer = request
        do {
            let response = try await slot.executor.run(timeout: transfer.timeout + Self.grace) {
                try slot.handle.perform(transfer)
            }
            release(slot)
            return response
        } catch let error as CurlError {
            release(slot)
            throw error
        } catch {
            // The caller gave up while the transfer may still run: the handle goes back to the pool
            // only after it, so no other request waits behind an abandoned one.
            slot.executor.enqueue { self.release(slot) }
            if error is CancellationError { throw CurlError.cancelled }
            throw CurlError(kind: .timeout, code: 0, message: "libcurl did not return within the request timeout")
        }
    }

    // MARK: Handles

    private func acquire(until deadline: ContinuousClock.Instant) async throws(CurlError) -> Slot {
        if Task.isCancelled { throw CurlError.cancelled }
        let immediate: Slot? = state.withLock { $0.idle.popLast() }
        if let immediate { return immediate }
        let waiterID: UInt64 = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Slot, any Error>) in
                    let handedOver: Slot? = state.withLock { state in
                        // A handle may have come back between the first check and now.
                        if let slot = state.idle.popLast() { return slot }
                        state.waiters.append(Waiter(id: waiterID, continuation: continuation))
                        return nil
                    }
                    if let handedOver {
                        continuation.resume(returning: handedOver)
                        return
                    }
                    // Cancelled before the waiter was listed: the handler below found nothing to fail.
                    if Task.isCancelled {
                        failWaiter(id: waiterID, with: CurlError.cancelled)
                        return
                    }
                    let wait = Int(max(0, (deadline - ContinuousClock.now).nanoseconds))
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(wait)) { [weak self] in
                        self?.failWaiter(
                            id: waiterID,
                            with: CurlError(kind: .timeout, code: 0, message: "no libcurl handle free within the request timeout")
                        )
                    }
                }
            } onCancel: {
                self.failWaiter(id: waiterID, with: CurlError.cancelled)
            }
        } catch let error as CurlError {
            throw error
        } catch {
            throw CurlError.cancelled
        }
    }

    private func failWaiter(id: UInt64, with error: CurlError) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ slot: Slot) {
        let waiter: Waiter? = state.withLock { state in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(slot)
            return nil
        }
        // The handle passes straight to the oldest waiter.
        waiter?.continuation.resume(returning: slot)
    }
}

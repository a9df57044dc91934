import Support

/// A small pool of libcurl easy handles for async code.
///
/// libcurl's easy interface blocks, so each handle lives on its own ``BlockingExecutor`` and
/// callers suspend while a transfer runs; handles are reused so connections (and TLS sessions)
/// are too. A request's timeout bounds the whole call, the wait for a free handle included, and
/// a cancelled caller returns at once, wherever it was. The handles are leased through Support's
/// ``SlotPool`` (the same pool as `PostgresClient`'s), whose outcomes map to ``CurlError``.
public final class CurlClient: Sendable {
    private final class Slot: Sendable {
        let executor: BlockingExecutor
        let handle: CurlHandle
        init(index: Int) {
            executor = BlockingExecutor(label: "stableid.curl.\(index)")
            handle = CurlHandle()
        }
    }

    /// How long a caller waits past the request's timeout for libcurl to give up by itself, before
    /// it stops waiting (a blocking DNS lookup can outlast `CURLOPT_TIMEOUT_MS`).
    private static let grace: Duration = .seconds(1)

    private let slots: SlotPool<Slot>

    public init(maxConcurrentTransfers: Int = 8) {
        slots = SlotPool((0..<max(1, maxConcurrentTransfers)).map(Slot.init(index:)))
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
        // A cancelled caller never starts a request, even when a handle is free (the pool would
        // hand it one).
        if Task.isCancelled { throw CurlError.cancelled }
        do throws(SlotPoolError) {
            return try await slots.acquire(until: deadline)
        } catch {
            switch error {
            case .timedOut:
                throw CurlError(kind: .timeout, code: 0, message: "no libcurl handle free within the request timeout")
            case .cancelled, .closed:
                // `.closed` cannot happen: this client never closes its pool.
                throw CurlError.cancelled
            }
        }
    }

    private func release(_ slot: Slot) {
        slots.release(slot)
    }
}

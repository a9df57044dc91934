import Dispatch
import Synchronization

/// A small pool of libcurl easy handles for async code.
///
/// libcurl's easy interface blocks, so each handle lives on its own serial queue and callers
/// suspend while a transfer runs; handles are reused so connections (and TLS sessions) are too.
public final class CurlClient: Sendable {
    private final class Slot: Sendable {
        let queue: DispatchQueue
        let handle: CurlHandle
        init(index: Int) {
            queue = DispatchQueue(label: "stableid.curl.\(index)")
            handle = CurlHandle()
        }
    }

    private let slots: Mutex<[Slot]>
    private let waiters = Mutex<[CheckedContinuation<Slot, Never>]>([])

    public init(maxConcurrentTransfers: Int = 8) {
        slots = Mutex((0..<max(1, maxConcurrentTransfers)).map(Slot.init(index:)))
    }

    public func send(_ request: HTTPRequest) async throws(CurlError) -> HTTPResponse {
        let slot = await acquire()
        defer { release(slot) }
        let result: Result<HTTPResponse, CurlError> = await withCheckedContinuation { continuation in
            slot.queue.async {
                continuation.resume(returning: Result { () throws(CurlError) in try slot.handle.perform(request) })
            }
        }
        return try result.get()
    }

    private func acquire() async -> Slot {
        if let slot = slots.withLock({ $0.popLast() }) { return slot }
        return await withCheckedContinuation { continuation in
            let immediate: Slot? = slots.withLock { slots in
                if let slot = slots.popLast() { return slot }
                waiters.withLock { $0.append(continuation) }
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func release(_ slot: Slot) {
        let waiter: CheckedContinuation<Slot, Never>? = slots.withLock { slots in
            if let next = waiters.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return next }
            slots.append(slot)
            return nil
        }
        waiter?.resume(returning: slot)
    }
}

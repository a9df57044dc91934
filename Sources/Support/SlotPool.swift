import Dispatch
import Synchronization

/// Why ``SlotPool/acquire(until:)`` gave up. Each owner maps it to an error of its own
/// (`CurlError`, `PostgresError`), so callers never see this type.
public enum SlotPoolError: Error, Sendable, Equatable {
    /// The deadline passed while the caller waited in line.
    case timedOut
    /// The calling task was cancelled while it waited in line.
    case cancelled
    /// The pool was closed, before the call or while the caller waited.
    case closed
}

/// A fixed set of resources (a libcurl handle or a libpq connection slot, each with its thread)
/// that async callers lease one at a time: the one pool both clients share, written once.
///
/// - **Free resources** are handed out last released first, so warm connections are reused and
///   cold ones stay cold; the order of the initial array is the order of that stack (the last
///   element goes out first).
/// - **Waiters** queue in arrival order, and ``release(_:)`` gives the resource straight to the
///   oldest one, never back to the free list while someone waits: no caller can overtake a
///   waiter, and a resource is never idle while there is demand.
/// - **A waiter gives up** when its deadline passes (``SlotPoolError/timedOut``), when its task
///   is cancelled (``SlotPoolError/cancelled``), or when the pool closes
///   (``SlotPoolError/closed``); it leaves the queue at once and keeps no one else waiting. A
///   caller that finds a resource free gets it without waiting, even when its task is already
///   cancelled: owners that must not start work for a cancelled caller check before acquiring.
/// - **Closing** (``close()``) fails every waiter and every later acquire; leased resources still
///   come back through ``release(_:)``.
///
/// A waiter is woken by a continuation, a Dispatch timer (its deadline) and the task's
/// cancellation handler, which race; the waiter's entry in the queue is what settles the race:
/// whoever removes it, under the lock, resumes it, so it is resumed exactly once. A timer that
/// fires after its waiter was served finds nothing to do.
public final class SlotPool<Resource: Sendable>: Sendable {
    /// Point-in-time occupancy, for gauges and readiness probes.
    public struct Statistics: Sendable, Equatable {
        /// Free resources.
        public var idle: Int
        /// Resources acquired and not yet released.
        public var leased: Int
        /// Callers in line for a resource.
        public var waiting: Int

        public init(idle: Int, leased: Int, waiting: Int) {
            self.idle = idle
            self.leased = leased
            self.waiting = waiting
        }
    }

    private struct Waiter: Sendable {
        var id: UInt64
        var continuation: CheckedContinuation<Result<Resource, SlotPoolError>, Never>
    }

    private struct State: Sendable {
        var idle: [Resource]
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var leased = 0
        var closed = false
    }

    private let state: Mutex<State>

    /// A pool of `resources`, all free; the last element is handed out first.
    public init(_ resources: [Resource]) {
        state = Mutex(State(idle: resources))
    }

    public var statistics: Statistics {
        state.withLock { state in
            Statistics(idle: state.idle.count, leased: state.leased, waiting: state.waiters.count)
        }
    }

    /// A free resource, at once when there is one, else the next one released, in arrival order.
    ///
    /// Throws ``SlotPoolError/timedOut`` when `deadline` passes first (a deadline already past
    /// still gets a resource that is free now), ``SlotPoolError/cancelled`` when the calling task
    /// is cancelled while it waits, ``SlotPoolError/closed`` when the pool is or becomes closed.
    /// Every resource acquired must be given back with ``release(_:)``.
    public func acquire(until deadline: ContinuousClock.Instant) async throws(SlotPoolError) -> Resource {
        let immediate: Result<Resource, SlotPoolError>? = state.withLock { state in Self.settle(&state) }
        if let immediate { return try Self.unwrap(immediate) }
        let waiterID: UInt64 = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let outcome: Result<Resource, SlotPoolError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Resource, SlotPoolError>, Never>) in
                let settled: Result<Resource, SlotPoolError>? = state.withLock { state in
                    // A resource may have come back, or the pool closed, since the first look.
                    if let settled = Self.settle(&state) { return settled }
                    state.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    return nil
                }
                if let settled {
                    continuation.resume(returning: settled)
                    return
                }
                // Cancelled before the waiter was listed: the handler below found nothing to fail.
                if Task.isCancelled {
                    fail(waiterID, with: .cancelled)
                    return
                }
                let wait = Int(max(0, (deadline - ContinuousClock.now).nanoseconds))
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(wait)) { [weak self] in
                    self?.fail(waiterID, with: .timedOut)
                }
            }
        } onCancel: {
            self.fail(waiterID, with: .cancelled)
        }
        return try Self.unwrap(outcome)
    }

    /// Gives `resource` back: straight to the oldest waiter if there is one, else to the free list.
    public func release(_ resource: Resource) {
        let waiter: Waiter? = state.withLock { state in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.leased -= 1
            state.idle.append(resource)
            return nil
        }
        // The lease passes to the waiter; `leased` stays the same.
        waiter?.continuation.resume(returning: .success(resource))
    }

    /// Closes the pool: every waiter and every later ``acquire(until:)`` fails with
    /// ``SlotPoolError/closed``. Returns the free resources for their owner to tear down; they
    /// stay counted as idle, and resources still leased come back through ``release(_:)``.
    @discardableResult
    public func close() -> [Resource] {
        let (waiters, idle) = state.withLock { state -> ([Waiter], [Resource]) in
            state.closed = true
            defer { state.waiters.removeAll() }
            return (state.waiters, state.idle)
        }
        for waiter in waiters {
            waiter.continuation.resume(returning: .failure(.closed))
        }
        return idle
    }

    // MARK: Inside

    /// What a caller gets without waiting: a failure when closed, else a free resource (leased
    /// from here on), else nil (it must wait). Called under the lock.
    private static func settle(_ state: inout State) -> Result<Resource, SlotPoolError>? {
        if state.closed { return .failure(.closed) }
        guard let resource = state.idle.popLast() else { return nil }
        state.leased += 1
        return .success(resource)
    }

    private static func unwrap(_ outcome: Result<Resource, SlotPoolError>) throws(SlotPoolError) -> Resource {
        switch outcome {
        case .success(let resource): return resource
        case .failure(let error): throw error
        }
    }

    /// Takes waiter `id` out of the queue and resumes it with `error`; nothing when it has gone
    /// (served, or already failed by the timer, the cancellation handler or `close`).
    private func fail(_ id: UInt64, with error: SlotPoolError) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: .failure(error))
    }
}

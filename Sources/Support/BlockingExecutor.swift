import Dispatch
import Synchronization

/// Why ``BlockingExecutor/run(timeout:_:)`` gave up waiting.
public enum BlockingExecutorError: Error, Sendable, Equatable {
    /// The timeout elapsed before the body finished; its result, when it comes, is discarded.
    case timedOut
}

/// A serial line of work on a Dispatch thread for blocking C calls (libpq, libcurl), so they never
/// occupy a thread of Swift's cooperative pool, which has only as many threads as cores.
///
/// Bodies run one at a time in submission order, which is what lets an owner give a C handle to
/// exactly one executor and touch it from nowhere else. A blocking call cannot be interrupted
/// from outside: when a caller gives up (timeout or cancellation) it is resumed at once, but the
/// body goes on until the C call returns and holds up every body queued behind it. Owners must
/// therefore bound the call itself (libpq's `statement_timeout`/`connect_timeout`, libcurl's
/// `CURLOPT_TIMEOUT_MS`); the executor's timeout only bounds how long the caller waits.
public final class BlockingExecutor: Sendable {
    private let queue: DispatchQueue
    private let waiting = Atomic<Int>(0)

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Bodies submitted by ``run(timeout:_:)`` or ``runToCompletion(_:)`` that the executor's
    /// thread has not reached yet, including those whose caller has given up (they are dropped
    /// when reached). For tests that must know a caller is queued before they act.
    public var queuedBodies: Int {
        waiting.load(ordering: .acquiring)
    }

    /// Runs `body` on the executor's thread and returns its result.
    ///
    /// A caller cancelled before the body starts gets `CancellationError` and the body never runs.
    /// Cancelled while it runs, or when `timeout` elapses first, the caller gets
    /// `CancellationError` or ``BlockingExecutorError/timedOut`` at once: a body still queued then
    /// never runs, a running one finishes on its thread and its result is dropped. Use
    /// ``runToCompletion(_:)`` when the caller must learn the outcome of a body that started (a
    /// transaction that may have committed).
    public func run<T: Sendable>(timeout: Duration? = nil, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await submit(body, timeout: timeout, abandonWhenRunning: true)
    }

    /// Runs `body` on the executor's thread; cancellation is honoured only until the body starts,
    /// after which the caller waits for its result whatever happens to the calling task.
    public func runToCompletion<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await submit(body, timeout: nil, abandonWhenRunning: false)
    }

    /// Runs `body` on the executor's thread while the calling thread blocks: for synchronous
    /// teardown (closing idle handles at shutdown) where nothing is queued, never on a hot path.
    public func runSynchronously<T>(_ body: () throws -> T) rethrows -> T {
        try queue.sync(execute: body)
    }

    /// Queues `work` behind everything submitted so far, without waiting for it: for clean-up that
    /// must happen after an abandoned body has really finished (releasing the handle it used), and
    /// that must run even when the calling task is cancelled.
    public func enqueue(_ work: @escaping @Sendable () -> Void) {
        queue.async { work() }
    }

    private func submit<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T, timeout: Duration?, abandonWhenRunning: Bool
    ) async throws -> T {
        try Task.checkCancellation()
        let job = Job<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard job.install(continuation) else { return }
                waiting.add(1, ordering: .releasing)
                queue.async {
                    self.waiting.subtract(1, ordering: .releasing)
                    job.execute(body)
                }
                if let timeout {
                    let nanoseconds = Int(max(0, timeout.nanoseconds))
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                        job.abandon(with: BlockingExecutorError.timedOut, evenWhenRunning: true)
                    }
                }
            }
        } onCancel: {
            job.abandon(with: CancellationError(), evenWhenRunning: abandonWhenRunning)
        }
    }
}

/// One submission's hand-over between the caller, the executor thread, the timer and the
/// cancellation handler, which race; the state machine makes sure the continuation is resumed
/// exactly once and that a body abandoned before it started never runs.
private final class Job<T: Sendable>: Sendable {
    private enum State {
        /// The cancellation handler may run before the continuation exists.
        case created
        case abandonedBeforeInstall(any Error)
        case queued(CheckedContinuation<T, any Error>)
        case running(CheckedContinuation<T, any Error>)
        case finished
    }

    private let state = Mutex<State>(.created)

    /// False when the caller was already abandoned; the continuation has then been resumed here.
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let earlyError: (any Error)? = state.withLock { state in
            if case .abandonedBeforeInstall(let error) = state {
                state = .finished
                return error
            }
            state = .queued(continuation)
            return nil
        }
        guard let earlyError else { return true }
        continuation.resume(throwing: earlyError)
        return false
    }

    func execute(_ body: () throws -> T) {
        let shouldRun: Bool = state.withLock { state in
            guard case .queued(let continuation) = state else { return false }
            state = .running(continuation)
            return true
        }
        guard shouldRun else { return }
        let result = Result(catching: body)
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard case .running(let continuation) = state else { return nil }
            state = .finished
            return continuation
        }
        continuation?.resume(with: result)
    }

    func abandon(with error: any Error, evenWhenRunning: Bool) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            switch state {
            case .created:
                state = .abandonedBeforeInstall(error)
                return nil
            case .queued(let continuation):
                state = .finished
                return continuation
            case .running(let continuation) where evenWhenRunning:
                state = .finished
                return continuation
            case .running, .abandonedBeforeInstall, .finished:
                return nil
            }
        }
        continuation?.resume(throwing: error)
    }
}

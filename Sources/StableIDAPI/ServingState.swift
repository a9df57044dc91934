public import LookupCache
import Synchronization

/// Whether this server should be sent traffic, beyond "the database answers": a server is not
/// ready while its read model warms up for the first time (every lookup would go to PostgreSQL, at
/// the moment the other servers of a rolling deploy lean on it too), nor once it has begun
/// draining for shutdown (the load balancer must stop sending before the port closes).
public final class ServingState: Sendable {
    public enum Verdict: Sendable, Equatable {
        case serving
        /// The read model has not been live yet: identities loaded so far, and how many expected.
        case warming(loaded: Int, expected: Int)
        case draining
    }

    let cache: LookupCache?
    /// `STABLEID_READY_BEFORE_WARM=true`: ready as soon as the database is (a single server that
    /// would rather answer from PostgreSQL for a few seconds than not at all).
    let readyBeforeWarm: Bool
    let drain: DrainSignal

    public init(cache: LookupCache?, readyBeforeWarm: Bool = false, drain: DrainSignal = DrainSignal()) {
        self.cache = cache
        self.readyBeforeWarm = readyBeforeWarm
        self.drain = drain
    }

    public var verdict: Verdict {
        if drain.isDraining { return .draining }
        if let cache, !readyBeforeWarm, !cache.hasBeenLive {
            let progress = cache.warmupProgress
            return .warming(loaded: progress.loaded, expected: progress.expected)
        }
        return .serving
    }
}

/// Set once a shutdown has begun (``DrainService``): from then on `/readyz` answers 503
/// `draining` while requests are still answered.
public final class DrainSignal: Sendable {
    private let draining = Atomic<Bool>(false)

    public init() {}

    public func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    public var isDraining: Bool { draining.load(ordering: .relaxed) }
}

public import IdentityMap
import Synchronization

/// Sign-ins that pre token generation answered from memory (every sign-in and token refresh asks
/// it; the fast path reads no database), noted here and written a batch at a time by `serve`
/// (`PeriodicService.signIns`) through ``IdentitySetWrites/recordSignIns(pools:subs:on:)``.
/// Post-authentication records its sign-in in its own transaction instead.
///
/// An identity is noted at most once per ``IdentitySetWrites/signInResolution`` per process, so a
/// user refreshing tokens all day costs one row write an hour per server. Memory is bounded: past
/// ``capacity`` identities remembered, those older than the resolution are forgotten (and, if
/// that is not enough, all of them: the database keeps the same hour's rule, so forgetting costs
/// a few more writes, never a wrong time); past ``capacity`` pending ones, new sign-ins wait for
/// their next token. A crash loses at most the pending batch: the first sign-in after it notes
/// the identity again.
public final class SignInLog: Sendable {
    public static let capacity = 100_000

    /// One sign-in to write.
    public struct Entry: Sendable, Hashable {
        public var pool: PoolID
        public var sub: String

        public init(pool: PoolID, sub: String) {
            self.pool = pool
            self.sub = sub
        }
    }

    private struct State {
        var noted: [Entry: ContinuousClock.Instant] = [:]
        var pending: [Entry] = []
    }

    private let state = Mutex(State())
    private let resolution: Duration

    public init(resolution: Duration = IdentitySetWrites.signInResolution) {
        self.resolution = resolution
    }

    /// Notes a sign-in of `(pool, sub)`; false when it was noted within the resolution (or there
    /// is no room for it).
    @discardableResult
    public func note(pool: PoolID, sub: String, at now: ContinuousClock.Instant = .now) -> Bool {
        let entry = Entry(pool: pool, sub: sub)
        let resolution = self.resolution
        return state.withLock { state in
            if let last = state.noted[entry], now - last < resolution { return false }
            guard state.pending.count < Self.capacity else { return false }
            if state.noted.count >= Self.capacity {
                state.noted = state.noted.filter { now - $0.value < resolution }
                if state.noted.count >= Self.capacity { state.noted = [:] }
            }
            state.noted[entry] = now
            state.pending.append(entry)
            return true
        }
    }

    /// The sign-ins noted since the last call.
    public func drain() -> [Entry] {
        state.withLock { state in
            defer { state.pending = [] }
            return state.pending
        }
    }

    /// Sign-ins that could not be written go back, to be written with the next batch.
    public func restore(_ entries: [Entry]) {
        state.withLock { state in
            state.pending = Array((entries + state.pending).prefix(Self.capacity))
        }
    }
}

/// When a failed delivery is tried again: exponential backoff from ``base`` (5 s: 5, 10, 20, 40 s,
/// …) capped at ``cap`` (1 h), each delay drawn between half of it and all of it ("equal jitter"),
/// so endpoints that failed together do not come back in step, and a receiver that recovers is not
/// hit by every sender at the same second. Pure: the random draw is the caller's.
public struct RetryBackoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(5), cap: Duration = .seconds(3_600)) {
        self.base = base
        self.cap = max(base, cap)
    }

    /// The wait after the `failures`-th failure in a row (1 for the first), `unit` a draw from
    /// 0…1: between half and all of `min(cap, base × 2^(failures − 1))`.
    public func delay(afterFailures failures: Int, unit: Double) -> Duration {
        let doublings = min(max(0, failures - 1), 40)
        let full = min(cap, base * (1 << doublings))
        let fraction = 0.5 + 0.5 * min(1, max(0, unit))
        return full * fraction
    }

    /// ``delay(afterFailures:unit:)`` with a fresh random draw.
    public func delay(afterFailures failures: Int) -> Duration {
        delay(afterFailures: failures, unit: Double.random(in: 0...1))
    }
}

/// A `Duration` as the plain numbers C APIs and log lines take (libcurl and libpq want
/// milliseconds, Dispatch nanoseconds), so the unit arithmetic is written once.
///
/// The integer forms truncate toward zero (1.9 ms is 1 ms, -1.9 ms is -1 ms) and saturate at
/// `Int64.min`/`Int64.max` instead of trapping on durations too long to express.
extension Duration {
    /// Whole milliseconds, truncated toward zero.
    public var milliseconds: Int64 {
        Int64(clamping: attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds, truncated toward zero.
    public var nanoseconds: Int64 {
        Int64(clamping: attoseconds / 1_000_000_000)
    }

    /// Seconds as a `Double`, for rates and human-facing output; not exact below a nanosecond or so.
    public var seconds: Double {
        Double(attoseconds) / 1e18
    }
}

public import Foundation

// The projection's model, stated once (docs/OPERATIONS.md, "Campaign progress"): the long tail of
// a lazy migration shrinks by roughly the same share every day — each remaining user has about the
// same chance of signing in today — so the remaining count decays exponentially,
// `remaining(t) = remaining(0) · e^(−k·t)`. Taking logarithms makes that a straight line,
// `ln remaining(t) = ln remaining(0) − k·t`, fitted by ordinary least squares over the days of the
// window. k is the daily rate (a share k of the remaining users moves per day, for small k), ln 2/k
// the half-life in days, and R² says how straight the logarithms lie (1: exactly exponential).
extension ProgressProjection {
    /// Fewer days with users remaining than this give no fit: a line through a handful of points
    /// says more about one busy day than about the trend.
    public static let minimumPoints = 7
    /// How far past today the fitted curve is drawn.
    public static let curveHorizonDays = 365
    /// A projected date further ahead than this is no date: the rate cannot be told from flat, and
    /// the projection says ``Unavailable/notDecaying``.
    public static let dateHorizonDays = 3_650

    /// Fits the model to the remaining count at the end of each day and projects the first day
    /// its share of `total` falls below `level`.
    ///
    /// - Parameters:
    ///   - remainingByDay: the remaining count at the end of each day (any order; one entry a day).
    ///   - total: the users the share is of (migrated + remaining).
    ///   - windowDays: the fit uses the days of the last `windowDays`, today included, whose
    ///     remaining count is above zero (the logarithm of zero is no number).
    ///   - today: the day the window ends on; its remaining count is the one that is true now.
    public static func fit(
        remainingByDay: [(Date, Int)], total: Int, level: Double, windowDays: Int, today: Date
    ) -> ProgressProjection {
        let todayNumber = UTCDay.number(today)
        let origin = todayNumber - windowDays + 1
        let known = remainingByDay.map { (day: UTCDay.number($0.0), remaining: $0.1) }.filter { $0.day <= todayNumber }
        let points = known.filter { $0.day >= origin && $0.remaining > 0 }.sorted { $0.day < $1.day }
        var projection = ProgressProjection(level: level, windowDays: windowDays, pointsUsed: points.count)
        var fitted: LeastSquaresLine?
        if points.count >= minimumPoints {
            let candidate = LeastSquaresLine(points.map { (x: Double($0.day - origin), y: log(Double($0.remaining))) })
            if candidate.isFinite { fitted = candidate }
        }
        if let line = fitted, let first = points.first {
            projection.rate = -line.slope
            projection.rSquared = line.rSquared
            if line.slope < 0 { projection.halfLifeDays = log(2) / -line.slope }
            projection.curve = Self.curve(line, origin: origin, days: first.day...todayNumber)
        }
        let remainingNow = known.max { $0.day < $1.day }?.remaining ?? 0
        if total <= 0 || Double(remainingNow) / Double(total) < level {
            projection.unavailable = .reached
            return projection
        }
        guard let line = fitted else {
            projection.unavailable = .tooFewDays
            return projection
        }
        guard line.slope < 0, let reach = Self.reachDay(line, origin: origin, today: todayNumber, below: level * Double(total))
        else {
            projection.unavailable = .notDecaying
            return projection
        }
        projection.reachesLevelOn = UTCDay.start(reach)
        let drawnTo = min(reach, todayNumber + curveHorizonDays)
        if drawnTo > todayNumber { projection.curve += Self.curve(line, origin: origin, days: (todayNumber + 1)...drawnTo) }
        return projection
    }

    /// The first day after today whose fitted count is below `threshold`: the line crosses
    /// `ln threshold` at x* = (ln threshold − intercept) / slope, and the first whole day past it
    /// is ⌊x*⌋ + 1 (on x* itself the count equals the threshold, which is not below it). Nil when
    /// that is more than ``dateHorizonDays`` ahead.
    static func reachDay(_ line: LeastSquaresLine, origin: Int, today: Int, below threshold: Double) -> Int? {
        let crossing = (log(threshold) - line.intercept) / line.slope
        let todayX = Double(today - origin)
        guard crossing.isFinite, crossing < todayX + Double(dateHorizonDays) else { return nil }
        // A fitted count already below the threshold while the real one is not: tomorrow is the
        // first day the projection can name.
        return origin + Int(max(crossing, todayX).rounded(.down)) + 1
    }

    static func curve(_ line: LeastSquaresLine, origin: Int, days: ClosedRange<Int>) -> [Point] {
        days.map { Point(day: UTCDay.start($0), remaining: exp(line.value(at: Double($0 - origin)))) }
    }
}

/// The ordinary least-squares line `y ≈ intercept + slope·x` through points with at least two
/// distinct x (a flat line when they all share one), with its R².
struct LeastSquaresLine: Equatable {
    var slope: Double
    var intercept: Double
    /// 1 − residual / total sum of squares, clamped to 0…1; 1 when every y is the same (the flat
    /// line then fits exactly).
    var rSquared: Double

    init(_ points: [(x: Double, y: Double)]) {
        let count = Double(max(points.count, 1))
        // y is taken relative to the first point's (the slope does not change): equal counts then
        // give exactly zero deviations, a slope of exactly 0 and R² 1, not rounding noise of
        // either sign.
        let base = points.first?.y ?? 0
        let meanX = points.reduce(0) { $0 + $1.x } / count
        let meanY = points.reduce(0) { $0 + ($1.y - base) } / count
        var sxx = 0.0
        var sxy = 0.0
        var syy = 0.0
        for point in points {
            let (dx, dy) = (point.x - meanX, point.y - base - meanY)
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
        }
        let slope = sxx > 0 ? sxy / sxx : 0
        let intercept = base + meanY - slope * meanX
        var residual = 0.0
        for point in points {
            let error = point.y - (intercept + slope * point.x)
            residual += error * error
        }
        self.slope = slope
        self.intercept = intercept
        self.rSquared = syy > 0 ? min(1, max(0, 1 - residual / syy)) : 1
    }

    func value(at x: Double) -> Double { intercept + slope * x }

    var isFinite: Bool { slope.isFinite && intercept.isFinite && rSquared.isFinite }
}

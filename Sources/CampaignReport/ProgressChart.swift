import Foundation
import IdentityMap
public import UserMigration

/// The migration curve as inline SVG: one line per link path (links made so far by that path), the
/// cumulative total as a bold line with one point per day, and the projection drawn as the fitted
/// *migrated* curve — source users in all (migrated + remaining) less the fitted remaining count —
/// solid over the days it was fitted on and dashed beyond today. Lines per path rather than
/// stacked areas: a stack's top would be the sum of links made, which an unlink makes differ from
/// the total the page reports; lines show each path's own curve and the true total side by side.
///
/// Machine-checkable, for the browser test: `<svg id="progress-chart" data-points="N">` holds one
/// `<circle class="point" data-day="YYYY-MM-DD">` per day of the curve. A campaign with nothing
/// linked yet renders an empty-state paragraph instead of an empty frame.
public struct ProgressChart: Sendable {
    public var progress: CampaignProgress

    public init(progress: CampaignProgress) {
        self.progress = progress
    }

    /// Nothing linked on any day (or no day at all): nothing to draw.
    public var isEmpty: Bool {
        progress.days.allSatisfy { $0.cumulative == 0 && $0.total == 0 }
    }

    /// The paths the chart draws: those with at least one link, in the order of ``LinkPath``.
    var paths: [LinkPath] {
        LinkPath.allCases.filter { (progress.totals[$0] ?? 0) > 0 }
    }

    /// A colour per path, distinct on screen and on paper.
    static func colour(of path: LinkPath) -> String {
        switch path {
        case .import: return "#2563eb"
        case .lazy: return "#16a34a"
        case .forgotPassword: return "#d97706"
        case .postConfirmation: return "#9333ea"
        case .social: return "#db2777"
        case .invite: return "#0891b2"
        case .manual: return "#6b7280"
        case .passwordless: return "#65a30d"
        }
    }

    static let totalColour = "#111827"
    static let projectionColour = "#dc2626"

    /// Links made so far by `path`, at the end of each day.
    func runningLinks(of path: LinkPath) -> [Int] {
        var sum = 0
        return progress.days.map { day in
            sum += day.links[path] ?? 0
            return sum
        }
    }
}

/// Where things go on the chart: day indexes on x (0 is the campaign's first day), counts on y.
struct ChartLayout {
    /// One point of the projection, as the chart draws it.
    struct ProjectedPoint {
        var index: Int
        var migrated: Double
    }

    static let width = 800.0
    static let height = 340.0
    static let left = 76.0
    static let right = 780.0
    static let top = 44.0
    static let bottom = 292.0
    static let secondsPerDay = 86_400.0

    var firstDay: Date
    /// The index of the last day of the curve (today).
    var lastDay: Int
    /// The end of the x axis: the last day, or the projection's last visible point.
    var lastIndex: Int
    /// Source users in all: migrated + remaining.
    var total: Int
    var step: Int
    var yTop: Int
    var projection: [ProjectedPoint]

    init(_ progress: CampaignProgress) {
        let firstDay = progress.days.first?.day ?? Date()
        let lastDay = max(progress.days.count - 1, 0)
        let total = progress.migrated + progress.remaining
        // The projection is drawn at most as far ahead again as the campaign is old (30 days at
        // least), so the curve so far keeps most of the width; the caption names the date.
        let horizon = lastDay + max(30, progress.days.count)
        let projection = progress.projection.curve.compactMap { point -> ProjectedPoint? in
            let index = ChartLayout.index(of: point.day, from: firstDay)
            guard index >= 0, index <= horizon, point.remaining.isFinite else { return nil }
            return ProjectedPoint(index: index, migrated: min(max(Double(total) - point.remaining, 0), Double(total)))
        }
        let highest = max(total, progress.days.map(\.cumulative).max() ?? 0, 1)
        let step = ChartLayout.niceStep(Double(highest) / 4)
        self.firstDay = firstDay
        self.lastDay = lastDay
        self.lastIndex = max(lastDay, projection.map(\.index).max() ?? 0, 1)
        self.total = total
        self.step = step
        self.yTop = (highest + step - 1) / step * step
        self.projection = projection
    }

    static func index(of day: Date, from first: Date) -> Int {
        Int((day.timeIntervalSince(first) / secondsPerDay).rounded())
    }

    func day(at index: Int) -> Date {
        firstDay.addingTimeInterval(Double(index) * Self.secondsPerDay)
    }

    func x(_ index: Int) -> Double {
        Self.left + (Self.right - Self.left) * Double(index) / Double(lastIndex)
    }

    func y(_ value: Double) -> Double {
        Self.bottom - (Self.bottom - Self.top) * value / Double(yTop)
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`: grid lines at round numbers.
    static func niceStep(_ raw: Double) -> Int {
        guard raw > 1 else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let nice: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
        return max(1, Int(nice * magnitude))
    }

    /// A coordinate with one decimal (no grouping): short, and exact enough for 800 units.
    static func coordinate(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return (tenths < 0 ? "-" : "") + String(tenths.magnitude / 10) + "." + String(tenths.magnitude % 10)
    }

    func point(_ index: Int, _ value: Double) -> String {
        Self.coordinate(x(index)) + "," + Self.coordinate(y(value))
    }
}

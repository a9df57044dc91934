import Foundation
import IdentityMap

// How the curve is built from the rollup's rows: pure day arithmetic, no database.
extension CampaignProgress {
    /// One (day, path) of the rollup, its slots summed.
    struct DailyLinks: Sendable, Equatable {
        var day: Int
        var via: LinkPath
        var links: Int
    }

    /// Every path at zero: days and totals always name every path.
    static var noLinks: [LinkPath: Int] {
        Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0, 0) })
    }

    /// Every UTC day from `firstDay` (or the first day with links, when earlier) through `lastDay`
    /// (or the last day with links, when later — a hand-set `linked_at` in the future), links by
    /// path with zeros filled in, and the running total.
    static func days(from rows: [DailyLinks], firstDay: Int, lastDay: Int) -> [Day] {
        var byDay: [Int: [LinkPath: Int]] = [:]
        for row in rows { byDay[row.day, default: noLinks][row.via, default: 0] += row.links }
        let first = min(firstDay, byDay.keys.min() ?? firstDay)
        let last = max(lastDay, byDay.keys.max() ?? lastDay, first)
        var cumulative = 0
        return (first...last).map { number in
            let links = byDay[number] ?? noLinks
            cumulative += links.values.reduce(0, +)
            return Day(day: UTCDay.start(number), links: links, cumulative: cumulative)
        }
    }

    /// Links by path over all `days`; every path present.
    static func totals(of days: [Day]) -> [LinkPath: Int] {
        var totals = noLinks
        for day in days {
            for (path, links) in day.links { totals[path, default: 0] += links }
        }
        return totals
    }

    /// The remaining count at the end of each day: what remains now, plus every link made after
    /// that day (those users were still to move then). The last day's count is `remainingNow`.
    static func remainingByDay(_ days: [Day], remainingNow: Int) -> [(Date, Int)] {
        var linkedLater = 0
        var result: [(Date, Int)] = []
        result.reserveCapacity(days.count)
        for day in days.reversed() {
            result.append((day.day, remainingNow + linkedLater))
            linkedLater += day.total
        }
        return result.reversed()
    }
}

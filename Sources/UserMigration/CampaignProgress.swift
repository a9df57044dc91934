public import Foundation
public import IdentityMap

/// A campaign's migration curve: links into the target pool per day and path, how many are left
/// and when the rest is projected to fall below a chosen share. One value feeds the CLI
/// (`campaign progress`), the API (`GET /v1/campaigns/{id}/progress`) and the report page, so all
/// three always show the same numbers.
public struct CampaignProgress: Sendable, Equatable {
    /// One UTC day of the curve. Days without links are present (zero), so a chart's points are
    /// evenly spaced and their number is the campaign's age in days.
    public struct Day: Sendable, Equatable {
        /// Midnight UTC that starts the day.
        public var day: Date
        /// Links made that day, by path; every path is present (zero when none).
        public var links: [LinkPath: Int]
        /// Identities migrated by the end of the day, every path together.
        public var cumulative: Int

        public init(day: Date, links: [LinkPath: Int], cumulative: Int) {
            self.day = day
            self.links = links
            self.cumulative = cumulative
        }

        public var total: Int { links.values.reduce(0, +) }
    }

    /// Where the remaining count came from.
    public enum RemainingSource: String, Sendable, Equatable {
        /// The latest completed reconciliation of the campaign, less the links made since it read
        /// the pools.
        case reconciliation
        /// The map alone (no reconciliation yet): source people without an active target identity.
        case map
    }

    public var campaign: Campaign
    public var days: [Day]
    /// Links by path over the whole campaign; every path is present.
    public var totals: [LinkPath: Int]
    /// Active target identities the campaign linked (the last day's `cumulative`).
    public var migrated: Int
    /// Source users not yet linked in the target.
    public var remaining: Int
    public var remainingSource: RemainingSource
    /// When the remaining count was read (now): the reconciliation's findings as they stand, less the links since.
    public var remainingAsOf: Date
    /// The reconciliation run the remaining count comes from, when it does.
    public var reconciliationRun: UUID?
    public var projection: ProgressProjection

    public init(
        campaign: Campaign, days: [Day], totals: [LinkPath: Int], migrated: Int, remaining: Int, remainingSource: RemainingSource,
        remainingAsOf: Date, reconciliationRun: UUID?, projection: ProgressProjection
    ) {
        self.campaign = campaign
        self.days = days
        self.totals = totals
        self.migrated = migrated
        self.remaining = remaining
        self.remainingSource = remainingSource
        self.remainingAsOf = remainingAsOf
        self.reconciliationRun = reconciliationRun
        self.projection = projection
    }

    /// The share of source users still to move, 0 when there were none.
    public var remainingShare: Double {
        let total = migrated + remaining
        return total == 0 ? 0 : Double(remaining) / Double(total)
    }
}

/// When the remaining share is projected to fall below `level`: exponential decay,
/// `remaining(t) = remaining(0) · e^(−k·t)`, fitted by least squares on the logarithm of each
/// day's remaining count over the last `windowDays` (docs/OPERATIONS.md states the model).
public struct ProgressProjection: Sendable, Equatable {
    /// Why there is no projection date.
    public enum Unavailable: String, Sendable, Equatable {
        /// Fewer days with users remaining than the fit needs.
        case tooFewDays = "too_few_days"
        /// The remaining count is not falling over the window (k ≤ 0).
        case notDecaying = "not_decaying"
        /// Already below the level.
        case reached
    }

    /// One point of the fitted curve, for the chart.
    public struct Point: Sendable, Equatable {
        public var day: Date
        public var remaining: Double

        public init(day: Date, remaining: Double) {
            self.day = day
            self.remaining = remaining
        }
    }

    /// The share of source users the projection looks for (0.01 = 1 %).
    public var level: Double
    public var windowDays: Int
    /// Days of the window the fit used (days with users remaining).
    public var pointsUsed: Int
    /// The daily decay rate k (per day); nil without a fit.
    public var rate: Double?
    /// ln 2 / k, in days.
    public var halfLifeDays: Double?
    /// R² of the fit on the logarithms, 0…1.
    public var rSquared: Double?
    /// The first UTC day the remaining share is projected below `level`.
    public var reachesLevelOn: Date?
    public var unavailable: Unavailable?
    /// The fitted curve over the window and on to `reachesLevelOn` (at most a year ahead).
    public var curve: [Point]

    public init(
        level: Double, windowDays: Int, pointsUsed: Int, rate: Double? = nil, halfLifeDays: Double? = nil, rSquared: Double? = nil,
        reachesLevelOn: Date? = nil, unavailable: Unavailable? = nil, curve: [Point] = []
    ) {
        self.level = level
        self.windowDays = windowDays
        self.pointsUsed = pointsUsed
        self.rate = rate
        self.halfLifeDays = halfLifeDays
        self.rSquared = rSquared
        self.reachesLevelOn = reachesLevelOn
        self.unavailable = unavailable
        self.curve = curve
    }
}

import Foundation
import IdentityMap
import Support
public import UserMigration

/// The wire shape of a campaign's progress (openapi.yaml, schema `CampaignProgress`): the body of
/// `GET /v1/campaigns/{id}/progress`, and what `stableid campaign progress --format json` prints,
/// byte for byte, so a script reads either the same way. Days are `YYYY-MM-DD` (UTC), times
/// RFC 3339; every path is a key of every day, and a value that is unknown is an explicit null.
public struct ProgressJSON: Encodable, Sendable {
    struct CampaignSummary: Encodable, Sendable {
        var id: String
        var name: String
        var target: String
        var sources: [String]
        var phase: String
        var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, name, target, sources, phase
            case createdAt = "created_at"
        }
    }

    struct Day: Encodable, Sendable {
        var day: String
        var links: [String: Int]
        var total: Int
        var cumulative: Int
    }

    struct Point: Encodable, Sendable {
        var day: String
        var remaining: Double
    }

    struct Projection: Encodable, Sendable {
        var model = "exponential_decay"
        var level: Double
        var windowDays: Int
        var pointsUsed: Int
        var rate: Double?
        var halfLifeDays: Double?
        var rSquared: Double?
        var reachesLevelOn: String?
        var unavailable: String?
        var curve: [Point]

        enum CodingKeys: String, CodingKey {
            case model, level, rate, unavailable, curve
            case windowDays = "window_days"
            case pointsUsed = "points_used"
            case halfLifeDays = "half_life_days"
            case rSquared = "r_squared"
            case reachesLevelOn = "reaches_level_on"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(model, forKey: .model)
            try container.encode(level, forKey: .level)
            try container.encode(windowDays, forKey: .windowDays)
            try container.encode(pointsUsed, forKey: .pointsUsed)
            // Explicit nulls: no fit, or no date, is an answer too.
            try container.encode(rate, forKey: .rate)
            try container.encode(halfLifeDays, forKey: .halfLifeDays)
            try container.encode(rSquared, forKey: .rSquared)
            try container.encode(reachesLevelOn, forKey: .reachesLevelOn)
            try container.encode(unavailable, forKey: .unavailable)
            try container.encode(curve, forKey: .curve)
        }
    }

    var campaign: CampaignSummary
    var migrated: Int
    var remaining: Int
    var remainingShare: Double
    var remainingSource: String
    var remainingAsOf: String
    var reconciliationRun: String?
    var totals: [String: Int]
    var days: [Day]
    var projection: Projection

    enum CodingKeys: String, CodingKey {
        case campaign, migrated, remaining, totals, days, projection
        case remainingShare = "remaining_share"
        case remainingSource = "remaining_source"
        case remainingAsOf = "remaining_as_of"
        case reconciliationRun = "reconciliation_run"
    }

    public init(_ progress: CampaignProgress) {
        let campaign = progress.campaign
        self.campaign = CampaignSummary(
            id: campaign.id.uuidString.lowercased(), name: campaign.name, target: campaign.target.rawValue,
            sources: campaign.sources.map(\.pool.rawValue), phase: campaign.phase.rawValue, createdAt: RFC3339.format(campaign.createdAt))
        migrated = progress.migrated
        remaining = progress.remaining
        remainingShare = progress.remainingShare
        remainingSource = progress.remainingSource.rawValue
        remainingAsOf = RFC3339.format(progress.remainingAsOf)
        reconciliationRun = progress.reconciliationRun?.uuidString.lowercased()
        totals = Self.byPath(progress.totals)
        days = progress.days.map { Day(day: Self.day($0.day), links: Self.byPath($0.links), total: $0.total, cumulative: $0.cumulative) }
        let fit = progress.projection
        projection = Projection(
            level: fit.level, windowDays: fit.windowDays, pointsUsed: fit.pointsUsed, rate: fit.rate, halfLifeDays: fit.halfLifeDays,
            rSquared: fit.rSquared, reachesLevelOn: fit.reachesLevelOn.map(Self.day), unavailable: fit.unavailable?.rawValue,
            curve: fit.curve.map { Point(day: Self.day($0.day), remaining: $0.remaining) })
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(campaign, forKey: .campaign)
        try container.encode(migrated, forKey: .migrated)
        try container.encode(remaining, forKey: .remaining)
        try container.encode(remainingShare, forKey: .remainingShare)
        try container.encode(remainingSource, forKey: .remainingSource)
        try container.encode(remainingAsOf, forKey: .remainingAsOf)
        try container.encode(reconciliationRun, forKey: .reconciliationRun)
        try container.encode(totals, forKey: .totals)
        try container.encode(days, forKey: .days)
        try container.encode(projection, forKey: .projection)
    }

    /// The JSON text with sorted keys: the bytes the route answers.
    public func text() throws -> String {
        String(decoding: try JSONEncoder.sortedKeys().encode(self), as: UTF8.self)
    }

    /// Every path, by its name on the wire (`forgot-password`, …).
    static func byPath(_ links: [LinkPath: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0.rawValue, links[$0] ?? 0) })
    }

    /// `YYYY-MM-DD` of the UTC day `date` starts.
    static func day(_ date: Date) -> String {
        RFC3339.day(date)
    }
}

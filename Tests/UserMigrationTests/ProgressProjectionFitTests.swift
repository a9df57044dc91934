import Foundation
import Testing
import UserMigration

/// The projection's fit on exact synthetic curves, every number computed by hand: exponential decay
/// fitted by least squares on ln(remaining) over the window (docs/OPERATIONS.md).
@Suite("Progress projection fit", .timeLimit(.minutes(2)))
struct ProgressProjectionFitTests {
    /// A day number (days since 1970-01-01 UTC) and its midnight.
    static let today = 20_000
    static func day(_ number: Int) -> Date { Date(timeIntervalSince1970: Double(number) * 86_400) }
    /// Today, in the afternoon: the fit counts in whole UTC days.
    static let now = Date(timeIntervalSince1970: Double(today) * 86_400 + 15 * 3_600)

    /// `counts[i]` is the remaining count at the end of day `today − (counts.count − 1) + i`.
    static func series(_ counts: [Int]) -> [(Date, Int)] {
        counts.enumerated().map { (day(today - counts.count + 1 + $0.offset), $0.element) }
    }

    static func power(_ base: Int, _ exponent: Int) -> Int { (0..<exponent).reduce(1) { value, _ in value * base } }

    static func close(_ value: Double?, _ expected: Double, tolerance: Double = 1e-9) -> Bool {
        guard let value else { return false }
        return abs(value - expected) <= tolerance * max(1, abs(expected))
    }

    @Test("remaining × 3/4 a day over 14 days: k = ln(4/3), half-life ln 2 / ln(4/3), R² = 1, below 1 % four days from today")
    func exactDecay() throws {
        // Day d of the window (d = 0…13, today is 13): 3^d · 4^(13−d), exactly 4^13 · (3/4)^d.
        let counts = (0...13).map { Self.power(3, $0) * Self.power(4, 13 - $0) }
        let total = Self.power(4, 13)  // 67,108,864: the share on day d is (3/4)^d
        let fit = ProgressProjection.fit(
            remainingByDay: Self.series(counts), total: total, level: 0.01, windowDays: 14, today: Self.now)
        #expect(fit.pointsUsed == 14 && fit.windowDays == 14 && fit.level == 0.01)
        #expect(fit.unavailable == nil)
        #expect(Self.close(fit.rate, log(4.0 / 3.0)), "k = 0.287682…, got \(String(describing: fit.rate))")
        #expect(Self.close(fit.halfLifeDays, log(2.0) / log(4.0 / 3.0)), "2.409 days")
        #expect(Self.close(fit.rSquared, 1, tolerance: 1e-12))
        // (3/4)^16 = 1.0023 % is not below 1 %; (3/4)^17 = 0.7517 % is: day 17 of the window, which
        // starts 13 days before today, is today + 4.
        #expect(fit.reachesLevelOn == Self.day(Self.today + 4))
        // The fitted curve: the 14 days of the window, then on to the day it reaches the level.
        #expect(fit.curve.count == 18)
        #expect(fit.curve.first?.day == Self.day(Self.today - 13) && fit.curve.last?.day == Self.day(Self.today + 4))
        #expect(Self.close(fit.curve.first?.remaining, Double(total)))
        #expect(Self.close(fit.curve[13].remaining, Double(Self.power(3, 13))), "today's fitted count is today's count")
        #expect(Self.close(fit.curve.last?.remaining, 504_453.761_718_75, tolerance: 1e-9), "4^13 · (3/4)^17")
        #expect(zip(fit.curve, fit.curve.dropFirst()).allSatisfy { $0.remaining > $1.remaining && $1.day > $0.day })
    }

    @Test("a fitted count already below the level while the real one is not: the date is tomorrow")
    func fittedBelowAlready() {
        // ln of 1000, 100, 10, 2, 2, 2, 2: slope −1.0028, the line crosses ln 1 (1 % of 100) at
        // x = 5.36, before today (x = 6); today's real count, 2 of 100, is still 2 %.
        let fit = ProgressProjection.fit(
            remainingByDay: Self.series([1000, 100, 10, 2, 2, 2, 2]), total: 100, level: 0.01, windowDays: 7, today: Self.now)
        #expect(fit.unavailable == nil && fit.pointsUsed == 7)
        #expect(fit.reachesLevelOn == Self.day(Self.today + 1))
        #expect(fit.curve.count == 8)
    }

    @Test("fewer than seven days with users remaining: too_few_days, no rate, no curve")
    func tooFewDays() {
        let fit = ProgressProjection.fit(
            remainingByDay: Self.series([100, 90, 80, 70, 60, 50]), total: 200, level: 0.01, windowDays: 28, today: Self.now)
        #expect(fit.unavailable == .tooFewDays && fit.pointsUsed == 6)
        #expect(fit.rate == nil && fit.halfLifeDays == nil && fit.rSquared == nil && fit.reachesLevelOn == nil && fit.curve.isEmpty)
        #expect(ProgressProjection.minimumPoints == 7)
    }

    @Test("only the window's days with users remaining are fitted")
    func window() {
        // 30 days, 1000 − 10·d; the count of day 26 is zero (a hand-made series: a real one never
        // rises again), so the last seven days hold six usable points and the last eight, seven.
        var counts = (0..<30).map { 1000 - 10 * $0 }
        counts[26] = 0
        let seven = ProgressProjection.fit(
            remainingByDay: Self.series(counts), total: 2000, level: 0.01, windowDays: 7, today: Self.now)
        #expect(seven.unavailable == .tooFewDays && seven.pointsUsed == 6)
        let eight = ProgressProjection.fit(
            remainingByDay: Self.series(counts), total: 2000, level: 0.01, windowDays: 8, today: Self.now)
        #expect(eight.pointsUsed == 7 && eight.rate.map { $0 > 0 } == true)
        #expect(eight.curve.first?.day == Self.day(Self.today - 7), "the curve starts at the first point used")
        // Days after today are not data yet.
        let future = Self.series(counts) + [(Self.day(Self.today + 1), 1)]
        #expect(ProgressProjection.fit(remainingByDay: future, total: 2000, level: 0.01, windowDays: 8, today: Self.now) == eight)
    }

    @Test("flat or rising: not_decaying, with the rate and the fitted window but no half-life or date")
    func notDecaying() {
        let flat = ProgressProjection.fit(
            remainingByDay: Self.series(Array(repeating: 500, count: 14)), total: 1000, level: 0.01, windowDays: 14, today: Self.now)
        #expect(flat.unavailable == .notDecaying && flat.rate == 0 && flat.halfLifeDays == nil && flat.reachesLevelOn == nil)
        #expect(flat.rSquared == 1 && flat.curve.count == 14 && Self.close(flat.curve.last?.remaining, 500))
        let rising = ProgressProjection.fit(
            remainingByDay: Self.series((0..<10).map { 100 * Self.power(2, $0) }), total: 1_000_000, level: 0.01, windowDays: 10,
            today: Self.now)
        #expect(rising.unavailable == .notDecaying && Self.close(rising.rate, -log(2.0)) && rising.halfLifeDays == nil)
    }

    @Test("decaying too slowly to reach the level within ten years counts as not decaying")
    func tooSlow() {
        // k ≈ 1e-6 a day: from 50 % to 1 % would take ln 50 / k ≈ 3.9 million days.
        let fit = ProgressProjection.fit(
            remainingByDay: Self.series((0..<28).map { 1_000_000 - $0 }), total: 2_000_000, level: 0.01, windowDays: 28,
            today: Self.now)
        #expect(fit.unavailable == .notDecaying && fit.reachesLevelOn == nil)
        #expect(fit.rate.map { $0 > 0 && $0 < 2e-6 } == true && fit.halfLifeDays != nil)
        #expect(fit.curve.count == 28, "nothing is drawn past today without a date")
    }

    @Test("already below the level: reached, whatever the fit says")
    func reached() {
        let counts = (0...13).map { Self.power(3, $0) * Self.power(4, 13 - $0) }
        let fit = ProgressProjection.fit(
            remainingByDay: Self.series(counts), total: 1_000_000_000, level: 0.01, windowDays: 14, today: Self.now)
        #expect(fit.unavailable == .reached && fit.reachesLevelOn == nil)
        #expect(Self.close(fit.rate, log(4.0 / 3.0)), "the fit is still reported")
        let none = ProgressProjection.fit(remainingByDay: Self.series([0, 0]), total: 0, level: 0.01, windowDays: 7, today: Self.now)
        #expect(none.unavailable == .reached && none.pointsUsed == 0, "nobody to migrate")
    }
}

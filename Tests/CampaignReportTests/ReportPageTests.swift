import CampaignReport
import Foundation
import Testing

@testable import IdentityMap
@testable import Reconciliation
@testable import UserMigration

/// The report renders from values alone: these build the values and read the HTML.
@Suite("Campaign report page", .timeLimit(.minutes(2)))
struct ReportPageTests {
    /// Midnight UTC, 2026-11-18.
    static let start = Date(timeIntervalSince1970: 20_775 * 86_400)
    static let day: TimeInterval = 86_400

    static func campaign(name: String = "into new") -> Campaign {
        Campaign(
            id: UUID(uuidString: "01937a2b-0000-7000-8000-00000000c0de")!, name: name, target: PoolID("eu-west-1_New")!,
            sources: [Campaign.Source(pool: PoolID("us-east-1_Old")!)], phase: .lazy, stableIDAttribute: nil, linkBy: [.username],
            mfaUsers: .reset, targetFacts: .unknown, createdAt: start, phaseChangedAt: start
        )
    }

    /// `links[i]` lazy links on day i (and one import too on the first day, if it has links), with a
    /// projection ahead.
    static func progress(name: String = "into new", links: [Int], remaining: Int = 40) -> CampaignProgress {
        var cumulative = 0
        let days = links.enumerated().map { index, count -> CampaignProgress.Day in
            var byPath = Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0, 0) })
            byPath[.lazy] = count
            let imported = index == 0 && count > 0 ? 1 : 0
            byPath[.import] = imported
            cumulative += count + imported
            return CampaignProgress.Day(day: start.addingTimeInterval(Double(index) * day), links: byPath, cumulative: cumulative)
        }
        var totals = Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0, 0) })
        totals[.lazy] = links.reduce(0, +)
        totals[.import] = (links.first ?? 0) > 0 ? 1 : 0
        let curve = (0..<(links.count + 20)).map { index in
            ProgressProjection.Point(
                day: start.addingTimeInterval(Double(index) * day), remaining: Double(remaining) * exp(-0.1 * Double(index)))
        }
        let projection = ProgressProjection(
            level: 0.01, windowDays: 28, pointsUsed: links.count, rate: 0.1, halfLifeDays: 6.93, rSquared: 0.97,
            reachesLevelOn: start.addingTimeInterval(Double(links.count + 19) * day), curve: links.isEmpty ? [] : curve
        )
        return CampaignProgress(
            campaign: campaign(name: name), days: days, totals: totals, migrated: cumulative, remaining: remaining,
            remainingSource: .map, remainingAsOf: start.addingTimeInterval(Double(links.count) * day), reconciliationRun: nil,
            projection: projection
        )
    }

    static func page(name: String = "into new", links: [Int] = [3, 5, 0, 8, 2], forms: ReportForms? = nil) -> ReportPage {
        let finding = Finding(
            id: 7, kind: .unmigrated, subject: "us-east-1_Old/0b1c2d3e-0000-4000-8000-000000000001", scope: "campaign:x",
            campaignID: nil, pool: "us-east-1_Old", sub: "0b1c2d3e-0000-4000-8000-000000000001", userID: UUID(), state: .open,
            firstSeenRun: UUID(), lastSeenRun: UUID(), firstSeenAt: start, lastSeenAt: start, resolvedAt: nil, ackBy: nil,
            ackReason: nil, ackUntil: nil, acknowledgedAt: nil, evidence: .object([:])
        )
        var counts = FindingCounts()
        counts.unmigrated = 120
        return ReportPage(
            progress: progress(name: name, links: links), findings: ReportFindings(counts: counts, open: [.unmigrated: [finding]]),
            generatedAt: start.addingTimeInterval(5 * day), forms: forms
        )
    }

    static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    @Test("one point per day of the curve, each named by its day, inside #progress-chart with data-points")
    func pointsPerDay() throws {
        for links in [[4], [3, 5, 0, 8, 2], Array(repeating: 1, count: 90)] {
            let html = ProgressChart(progress: Self.progress(links: links)).html()
            #expect(html.contains(#"<svg id="progress-chart""#))
            #expect(html.contains(#"data-points="\#(links.count)""#))
            #expect(Self.occurrences(of: #"<circle class="point""#, in: html) == links.count)
            for index in links.indices {
                let day = ReportFormat.day(Self.start.addingTimeInterval(Double(index) * Self.day))
                #expect(Self.occurrences(of: #"data-day="\#(day)""#, in: html) == 1, "\(day)")
            }
            // The projection is drawn dashed beyond today, and stated in the caption.
            #expect(html.contains(#"class="projection""#) && html.contains("stroke-dasharray"))
            #expect(html.contains("Projection: fewer than 1.0 % of source users left on"))
        }
    }

    @Test("a hostile campaign name is escaped everywhere it appears")
    func escapesCampaignName() {
        let hostile = #"<script>alert("x")</script><img src=x onerror=alert(1)> & 'q'"#
        let html = Self.page(name: hostile, forms: ReportForms(lookupToken: #""><b>"#, signOutToken: "t")).html()
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains(#""><b>"#))
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
        #expect(html.contains("&amp; &#39;q&#39;"))
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }

    @Test("self-contained: no script, no external asset or link, print styles inline")
    func selfContained() {
        for forms in [nil, ReportForms(lookupToken: "a", signOutToken: "b")] {
            var page = Self.page(forms: forms)
            let user = User(
                id: UUID(), status: .active, mergedInto: nil, createdAt: Self.start,
                identities: [
                    Identity(
                        pool: PoolID("eu-west-1_New")!, sub: "0b1c2d3e-0000-4000-8000-000000000009", username: "ann",
                        email: "ann@example.com", emailVerified: true, provider: "Cognito", status: .active, linkedAt: Self.start,
                        unlinkedAt: nil, via: .lazy)
                ]
            )
            let event = AuditEvent(
                id: 1, occurredAt: Self.start, actor: "trigger:UserMigration_Authentication:token:fwd", kind: "identity_linked",
                userID: user.id, poolID: "eu-west-1_New", sub: nil, details: .object(["via": .string("lazy")]), personal: nil,
                requestID: nil
            )
            page.lookup = LookupResult(.found([PersonHistory(user: user, events: [event], hasMore: false)]))
            let html = page.html()
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(!html.lowercased().contains("<script"))
            #expect(!html.contains("http://") && !html.contains("https://"))
            #expect(!html.contains(" src=") && !html.contains("<link rel=\"stylesheet\""))
            #expect(html.contains("<style>") && html.contains("@media print"))
            // Findings and histories never show an email address.
            #expect(!html.contains("ann@example.com"))
        }
    }

    @Test("the file has no forms and says where the lookup is; the served page posts it with its CSRF token")
    func lookupForm() {
        let file = Self.page().html()
        #expect(!file.contains("<form"))
        #expect(file.contains(#"id="lookup-unavailable""#))
        let served = Self.page(forms: ReportForms(lookupToken: "LOOKUP-TOKEN", signOutToken: "SIGNOUT-TOKEN")).html()
        let action = "/report/campaigns/01937a2b-0000-7000-8000-00000000c0de/lookup"
        #expect(served.contains(#"<form class="lookup" method="post" action="\#(action)">"#))
        #expect(served.contains(#"<input type="hidden" name="csrf" value="LOOKUP-TOKEN">"#))
        #expect(served.contains(#"<form method="post" action="/report/logout" class="signout">"#))
        #expect(served.contains(#"<input type="hidden" name="csrf" value="SIGNOUT-TOKEN">"#))
        #expect(!served.contains("lookup-unavailable"))
    }

    @Test("a campaign with nothing linked shows an empty state instead of a chart")
    func emptyState() {
        for links in [[], [0, 0, 0]] {
            let html = Self.page(links: links).html()
            #expect(html.contains(#"id="progress-empty""#))
            #expect(!html.contains(#"id="progress-chart""#))
        }
    }

    @Test("findings: all six kinds counted, the listed ones in their drill-down, the rest pointed at")
    func findings() {
        let html = Self.page().html()
        for kind in FindingKind.allCases {
            #expect(html.contains(#"<details id="findings-\#(kind.rawValue)""#), "\(kind)")
        }
        #expect(html.contains("unmigrated — 120 open"))
        #expect(html.contains("0b1c2d3e-0000-4000-8000-000000000001"))
        #expect(html.contains("The first 1 of 120"))
    }

    @Test("numbers are grouped, shares rounded, days in UTC")
    func formats() {
        #expect(ReportFormat.count(1_234_567) == "1,234,567")
        #expect(ReportFormat.count(-1_000) == "-1,000")
        #expect(ReportFormat.count(999) == "999")
        #expect(ReportFormat.share(0.0123) == "1.2 %")
        #expect(ReportFormat.decimal(6.931, digits: 2) == "6.93")
        #expect(ReportFormat.decimal(0.25, digits: 1) == "0.3")
        #expect(ReportFormat.decimal(-2, digits: 0) == "-2")
        #expect(ReportFormat.day(Date(timeIntervalSince1970: 86_400 * 365)) == "1971-01-01")
        #expect(ReportFormat.time(Date(timeIntervalSince1970: 86_400 + 3_723)) == "1970-01-02 01:02 UTC")
    }

    @Test("a sign-in may only send the browser back to a report page of this site")
    func safeReturn() {
        for good in ["/report/campaigns", "/report/campaigns/01937a2b-0000-7000-8000-00000000c0de"] {
            #expect(ReportPaths.isSafeReturn(good), "\(good)")
        }
        for bad in [
            "https://evil.example/report/x", "//evil.example/report/", "/report//evil.example", "/v1/users", "/report",
            "/report/../v1/events", "/report/\\evil", "/report/a b", "report/campaigns", "/report/x\"onload",
        ] {
            #expect(!ReportPaths.isSafeReturn(bad), "\(bad)")
        }
    }
}

import Foundation
import IdentityMap
import Reconciliation
import Support
import Testing

/// The report's JSON is the `stableid reconcile --format json` contract (DESIGN §3), and the
/// textfile is what alerts read: both pinned here.
@Suite("Reconciliation report and metrics", .timeLimit(.minutes(2)))
struct ReconcileReportTests {
    static let runID = UUID(uuidString: "01936C7E-8B2A-7C3D-9E4F-5A6B7C8D9E0F")!

    static func report() -> ReconcileReport {
        var counts = FindingCounts()
        counts.unmigrated = 12
        counts.stale = 1
        var new = FindingCounts()
        new[.unmigrated] = 2
        var resolved = FindingCounts()
        resolved[.orphaned] = 3
        return ReconcileReport(
            run: ReconcileReport.Run(
                id: runID, scope: "pools:us-east-1_Old", campaignID: nil, pools: ["us-east-1_Old"], source: .live, status: .completed,
                actor: "cli:root", startedAt: Date(timeIntervalSince1970: 1_764_000_000),
                finishedAt: Date(timeIntervalSince1970: 1_764_000_042.5), scanned: ["us-east-1_Old": 130]
            ),
            counts: counts, new: new, resolved: resolved
        )
    }

    @Test("JSON: run (lower-case id, RFC 3339 times, scanned per pool), and every kind in counts, new and resolved")
    func json() throws {
        let data = try JSONEncoder.sortedKeys().encode(Self.report())
        let object = try JSONDecoder().decode(JSONValue.self, from: data)
        let run = try #require(object["run"])
        #expect(run["id"] == .string(Self.runID.uuidString.lowercased()))
        #expect(run["started_at"] == .string("2025-11-24T16:00:00.000000Z"))
        #expect(run["finished_at"] == .string("2025-11-24T16:00:42.500000Z"))
        #expect(run["scanned"] == .object(["us-east-1_Old": .number(130)]))
        #expect(run["source"] == .string("live"))
        for key in ["counts", "new", "resolved"] {
            guard case .object(let counts) = object[key] else {
                Issue.record("\(key) is not an object")
                continue
            }
            #expect(Set(counts.keys) == ["unmigrated", "migrated_elsewhere", "unmapped", "orphaned", "duplicate", "conflict", "stale"])
        }
        #expect(object["counts"]?["unmigrated"] == .number(12))
        #expect(try JSONDecoder().decode(ReconcileReport.self, from: data) == Self.report())
        #expect(Self.report().open(of: [.stale, .unmigrated]) == 13)
        // What an older version stored (no `migrated_elsewhere`) reads with that kind at 0.
        let older = try JSONDecoder().decode(FindingCounts.self, from: Data(#"{"unmigrated":3,"stale":1}"#.utf8))
        #expect(older.unmigrated == 3 && older.stale == 1 && older.migratedElsewhere == 0)
    }

    @Test("textfile: open findings per kind, the last run's time and users scanned per pool")
    func textfile() {
        let text = ReconcileMetrics.textfile(for: Self.report())
        #expect(
            text == """
                # HELP stableid_reconcile_findings_open Open reconciliation findings per kind after the last run.
                # TYPE stableid_reconcile_findings_open gauge
                stableid_reconcile_findings_open{kind="conflict"} 0
                stableid_reconcile_findings_open{kind="duplicate"} 0
                stableid_reconcile_findings_open{kind="migrated_elsewhere"} 0
                stableid_reconcile_findings_open{kind="orphaned"} 0
                stableid_reconcile_findings_open{kind="stale"} 1
                stableid_reconcile_findings_open{kind="unmapped"} 0
                stableid_reconcile_findings_open{kind="unmigrated"} 12
                # HELP stableid_reconcile_last_run_timestamp_seconds When the last reconciliation run finished (Unix time).
                # TYPE stableid_reconcile_last_run_timestamp_seconds gauge
                stableid_reconcile_last_run_timestamp_seconds 1764000042.5
                # HELP stableid_reconcile_users_scanned Cognito users the last reconciliation run read, per pool.
                # TYPE stableid_reconcile_users_scanned gauge
                stableid_reconcile_users_scanned{pool="us-east-1_Old"} 130

                """
        )
    }

    @Test("extra labels go on every sample, escaped")
    func labels() {
        let text = ReconcileMetrics.textfile(for: Self.report(), labels: ["scope": "a\"b\\c"])
        #expect(text.contains(#"stableid_reconcile_findings_open{kind="stale",scope="a\"b\\c"} 1"#))
        #expect(text.contains(#"stableid_reconcile_last_run_timestamp_seconds{scope="a\"b\\c"} 1764000042.5"#))
    }
}

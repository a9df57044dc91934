import CognitoIngest
import Foundation
import HTTPTypes
import IdentityMap
import Logging
import Reconciliation
import TestSupport
import Testing

@Suite("Reconciliation routes", .timeLimit(.minutes(3)))
struct ReconciliationRoutesTests {
    @Test("GET /v1/reconciliation/runs and /findings (scope audit): filters, pages, one finding, 400s; /metrics shows the last run")
    func routes() async throws {
        let f = try await APIFixture.make()
        let old = PoolID(f.old)!, new = PoolID(f.new)!
        let run = try await ReconciliationRun.start(
            database: f.db.database, scope: try ReconcileScope(pools: [old, new]), source: .file, attribution: .init(actor: .system),
            logger: Logger(label: "test"))
        // Three users the map does not know: three unmapped findings.
        let subs = [testSub("rec-1"), testSub("rec-2"), testSub("rec-3")]
        try await run.stage(pool: old, records: subs.map { CognitoUserRecord(sub: $0, username: "secret-name-\($0.prefix(6))") })
        try await run.stage(pool: new, records: [])
        let report = try await run.finish()
        #expect(report.counts.unmapped == 3)
        let audit = f.tokens[.audit]!
        try await f.test { client in
            let runs = try await client.call(.get, "/v1/reconciliation/runs", token: audit)
            let listed = try #require(runs.json["runs"] as? [[String: Any]])
            #expect(runs.status == 200 && listed.count == 1)
            #expect(
                (listed[0]["counts"] as? [String: Int])?["unmapped"] == 3
                    && (listed[0]["run"] as? [String: Any])?["status"] as? String == "completed")

            var ids: [Int] = []
            var cursor: String? = ""
            while let next = cursor {
                let page = try await client.call(
                    .get, "/v1/reconciliation/findings?kind=unmapped&state=open&limit=2" + (next.isEmpty ? "" : "&cursor=\(next)"),
                    token: audit)
                #expect(page.status == 200)
                ids += (page.json["findings"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } ?? []
                cursor = page.json["next_cursor"] as? String
            }
            #expect(ids.count == 3 && ids == ids.sorted())
            let none = try await client.call(.get, "/v1/reconciliation/findings?kind=stale,conflict", token: audit)
            #expect((none.json["findings"] as? [Any])?.isEmpty == true)
            let one = try await client.call(.get, "/v1/reconciliation/findings/\(ids[0])", token: audit)
            #expect(one.status == 200 && one.json["kind"] as? String == "unmapped" && one.json["pool"] as? String == f.old)
            #expect(!one.text.contains("secret-name"), "no usernames in findings")
            #expect(try await client.call(.get, "/v1/reconciliation/findings/999999", token: audit).status == 404)
            for bad in ["kind=bogus", "kind=", "kind=stale,", "state=closed", "limit=0", "cursor=x", "user=nope"] {
                let reply = try await client.call(.get, "/v1/reconciliation/findings?\(bad)", token: audit)
                #expect(reply.status == 400 && reply.code == "invalid_request", "\(bad)")
            }
            #expect(try await client.call(.get, "/v1/reconciliation/findings?campaign=nope", token: audit).status == 404)
            #expect(try await client.call(.get, "/v1/reconciliation/runs", token: f.tokens[.resolve]!).status == 403)
            let metrics = try await client.call(.get, "/metrics", token: nil)
            #expect(
                metrics.text.contains("stableid_reconcile_findings_open{kind=\"unmapped\",scope=\"pools:"), "\(metrics.text.suffix(600))")
        }
    }
}

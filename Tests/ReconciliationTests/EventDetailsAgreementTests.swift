import Foundation
import Postgres
import TestSupport
import Testing
import Webhooks

@testable import IdentityMap
@testable import Reconciliation
@testable import UserMigration

/// Each event kind's details are defined once: a Swift type, and — for the kinds that set-wise
/// writers append with `EventLog.appendAll` — a SQL builder next to it. This walks every kind
/// the sources declare, writes a sample through `EventLog.append` (the Swift shape), and where a
/// builder exists writes the same values through it, comparing the stored `details`.
@Suite("Event details: one shape per kind", .timeLimit(.minutes(3)))
struct EventDetailsAgreementTests {
    /// One sample per kind: its Swift details, and the SQL builder over the row of `work` whose
    /// `finding` is `row` (nil where nothing writes the kind set-wise).
    struct Sample {
        var details: any EventDetails
        var sql: PostgresQuery?
    }

    static let run = UUID()
    static let campaign = UUID()
    static let pool = PoolID("us-east-1_Agree")!

    /// The working table the builders read: one row per builder sample, keyed by `finding`.
    static let work: PostgresQuery = """
        CREATE TEMP TABLE work ON COMMIT DROP AS SELECT * FROM (VALUES
            (1::bigint, 1::bigint, 'stale', 'us-east-1_Agree/0b1c2d3e-0000-4000-8000-000000000001', 'new', NULL::text,
             'Google', true, 'active', 'disabled', true, false),
            (2, 2, 'duplicate', 'email:0123abcd', 'reopened', 'refresh', 'Cognito', false, 'disabled', 'deleted', false, true)
        ) AS w (finding, finding_id, kind, subject, change, fix, provider, email_verified, old_status, status, email_changed,
                verified_changed)
        """

    static func samples() -> [String: Sample] {
        let user = UUID()
        let key = IdentityKey(pool: pool, sub: "0b1c2d3e-0000-4000-8000-000000000002")
        var facts = TargetPoolFacts(selfSignUp: true, attributeWriters: ["app"], readAt: Date(), problem: nil)
        let campaignValue = Campaign(
            id: campaign, name: "agree", target: pool, sources: [Campaign.Source(pool: PoolID("us-east-1_Src")!, clientID: "c1")],
            phase: .lazy, stableIDAttribute: "custom:stable_id", linkBy: [.username], mfaUsers: .reset, targetFacts: facts,
            createdAt: Date(), phaseChangedAt: Date(),
            subset: CampaignSubset(
                conditions: [CampaignSubset.Condition(attribute: "custom:country", values: ["DE", "FR"])],
                members: CampaignSubset.MemberCounts(usernames: 1, subs: 2))
        )
        facts.attributeWriters = nil
        var counts = FindingCounts()
        counts.stale = 1
        var report = BackfillReport()
        report.seen = 3
        let samples: [any EventDetails] = [
            FindingOpenedDetails(
                finding: 1, findingKind: .stale, subject: "us-east-1_Agree/0b1c2d3e-0000-4000-8000-000000000001", run: run,
                campaign: campaign, reopened: false),
            FindingResolvedDetails(
                finding: 2, findingKind: .duplicate, subject: "email:0123abcd", run: run, reason: .fixed, fix: "refresh"),
            FindingAcknowledgedDetails(findings: [1, 2], until: Date()),
            ReconcileCompletedDetails(
                run: run, scope: "campaign:x", campaign: campaign, source: .live, sources: ["p": "cognito:ListUsers"], scanned: ["p": 3],
                counts: counts, opened: counts, resolved: FindingCounts(), warnings: 0),
            CampaignCreatedDetails(campaign: campaignValue),
            CampaignTargetFactsChangedDetails(campaign: campaign, from: campaignValue.targetFacts, to: facts),
            CampaignPhaseChangedDetails(campaign: campaign, from: .lazy, to: .finalizing),
            MigrationSucceededDetails(campaign: campaign, targetPool: pool, via: .lazy, challenge: "SMS_MFA", mfa: .reset),
            MigrationFailedDetails(campaign: campaign, targetPool: pool, via: .lazy, reason: .mfaRefused, challenge: "SMS_MFA"),
            MigrationRefusalsCountedDetails(
                campaign: campaign, targetPool: pool, counts: ["user_not_found": 2, "already_in_target": 1, "outside_subset": 3],
                since: Date(), until: Date()),
            CampaignFinalizeExportedDetails(
                campaign: campaign, reconciliationRun: run, files: 2, users: 500_001, held: 3, skipped: 4,
                headerSource: "DescribeUserPool"),
            CampaignFinalizeCompletedDetails(
                campaign: campaign, reconciliationRun: run, mode: .passwordless, resend: false, created: 5, adopted: 1, resent: 0, held: 2,
                failed: 1, skipped: 3, limitReached: true),
            CampaignCleanupCompletedDetails(
                campaign: campaign, reconciliationRun: run, mode: .delete, olderThan: 2_592_000, cleaned: 4, settled: 1,
                skipped: [.tooRecent: 2, .outsideSubset: 1], failed: 0, limitReached: false),
            UserStampedDetails(run: run, attribute: "custom:stable_id", previous: user.uuidString.lowercased()),
            StableIDAttributeClearedDetails(
                run: run, attribute: "custom:stable_id", reason: .unlinked, previous: user.uuidString.lowercased()),
            StampRunFinishedDetails(
                run: run, attribute: "custom:stable_id", state: .stopped, resumed: true, pages: 3,
                counts: StampCounts(seen: 10, changed: 3, cleared: 1, skipped: 3, unmapped: 1, inactive: 1, gone: 0, failed: 1)),
            UserCreatedDetails(givenID: true, identities: 1, importRun: run),
            IdentityLinkedDetails(provider: "Google", emailVerified: true, importRun: run, via: .import),
            IdentityUnlinkedDetails(previousStatus: .active),
            UserMergedDetails(from: user, survivor: UUID(), movedIdentities: [key], repointedUsers: []),
            UserUnmergedDetails(from: user, survivor: UUID(), mergeEvent: 7, restoredIdentities: [key], repointedUsers: [user]),
            PoolAddedDetails(region: "us-east-1", issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Agree", name: "agree"),
            PoolTokenClientsChangedDetails(from: nil, to: ["client1", "client2"]),
            TokenCreatedDetails(tokenID: UUID(), name: "t", scopes: ["trigger"], pools: [pool.rawValue]),
            TokenRevokedDetails(tokenID: UUID(), name: "t"),
            ImportCompletedDetails(importRun: run, source: "file", reuseSubAsUserID: true, report: report),
            PersonalDataErasedDetails(
                users: [user], identities: 2, eventsScrubbed: 1, scrubbedEvents: [9],
                finalizeRows: [ErasedFinalizeRow(campaign: campaign, targetPool: pool.rawValue, state: "created")],
                subsetValues: [ErasedSubsetValues(campaign: campaign, removed: 2)]),
            IdentityStatusChangedDetails(from: .active, to: .disabled, reason: "fix", finding: 1, run: run),
            IdentityRefreshedDetails(finding: 2, run: run, fields: ["email_verified"], emailVerified: false),
            WebhookAddedDetails(
                webhook: run, url: "https://***@hooks.example.com/***#3035722f", kinds: ["identity.linked"], allowPrivate: false,
                secretFingerprint: "0123abcd", cursor: 42, note: "billing"),
            WebhookRemovedDetails(webhook: run, url: "https://hooks.example.com/in", cursor: 43),
            WebhookEnabledDetails(webhook: run, cursor: 44, fromEnd: true),
            WebhookDisabledDetails(
                webhook: run, reason: "failing", cursor: 45, failingSince: Date(timeIntervalSince1970: 1_780_000_000), attempts: 19,
                lastErrorCode: "http_503"),
        ]
        let builders: [String: PostgresQuery] = [
            FindingOpenedDetails.kind.rawValue: FindingOpenedDetails.sql(run: run, campaign: campaign),
            FindingResolvedDetails.kind.rawValue: FindingResolvedDetails.sql(run: run, reason: .fixed, fixColumn: "fix"),
            UserCreatedDetails.kind.rawValue: UserCreatedDetails.sql(givenID: true, importRun: run),
            IdentityLinkedDetails.kind.rawValue: IdentityLinkedDetails.sql(
                providerColumn: "provider", emailVerifiedColumn: "email_verified", importRun: run),
            IdentityStatusChangedDetails.kind.rawValue: IdentityStatusChangedDetails.sql(
                fromColumn: "old_status", toColumn: "status", reason: "fix", run: run),
            IdentityRefreshedDetails.kind.rawValue: IdentityRefreshedDetails.sql(run: run),
        ]
        var byKind: [String: Sample] = [:]
        for details in samples {
            let kind = type(of: details).kind.rawValue
            byKind[kind] = Sample(details: details, sql: builders[kind])
        }
        return byKind
    }

    /// The row of `work` each builder sample reads.
    static let builderRow: [String: Int] = [
        "finding_opened": 1, "finding_resolved": 2, "user_created": 1, "identity_linked": 1, "identity_status_changed": 1,
        "identity_refreshed": 2,
    ]

    /// Every `EventKind(rawValue: "…")` the sources declare.
    static func declaredKinds() throws -> Set<String> {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        var kinds: Set<String> = []
        let pattern = try Regex(#"EventKind\(rawValue: "([a-z_]+)"\)"#)
        for file in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: pattern) {
                if let name = match.output[1].substring { kinds.insert(String(name)) }
            }
        }
        return kinds
    }

    @Test("every declared kind has a sample, so a new kind cannot skip this test")
    func everyKindIsWalked() throws {
        let declared = try Self.declaredKinds()
        #expect(declared.count >= 20, "the scan found the kinds: \(declared.sorted())")
        #expect(Set(Self.samples().keys) == declared, "kinds without a sample: \(declared.subtracting(Self.samples().keys).sorted())")
    }

    @Test("written through the Swift type and through its SQL builder, every kind stores the same details")
    func bothWaysAgree() async throws {
        let db = try await TestDatabase.make()
        let samples = Self.samples()
        #expect(samples.values.filter { $0.sql != nil }.count == Self.builderRow.count)
        try await db.database.primary.transaction { connection in
            try connection.execute(Self.work)
            for (kind, sample) in samples.sorted(by: { $0.key < $1.key }) {
                let swift = try EventLog.append(EventDraft(sample.details), attribution: Attribution(actor: .system), on: connection)
                let stored = try connection.query("SELECT details::text AS d FROM events WHERE id = \(swift)")[0]
                let expected = JSONValue.object(sample.details.json).canonicalText
                #expect(
                    try connection.query("SELECT \(stored.decode("d", as: String.self))::jsonb = \(expected)::jsonb AS same")[0]
                        .decode("same", as: Bool.self), "\(kind): stored details differ from the Swift shape")
                guard let sql = sample.sql else { continue }
                let row = try #require(Self.builderRow[kind], "\(kind) has a builder but no row of work")
                let written = try EventLog.appendAll(
                    kind: type(of: sample.details).kind,
                    fill: "INSERT INTO event_log_batch (ord, details) SELECT finding, \(fragment: sql) FROM work WHERE finding = \(row)",
                    attribution: Attribution(actor: .system), on: connection
                )
                #expect(written == 1, "\(kind): the builder wrote \(written) events")
                // Compared as text too: the printed form is what the chain hashes (1 and 1.0 are
                // equal as jsonb, not as bytes).
                let compared = try connection.query(
                    """
                    SELECT a.details = b.details AND a.details::text = b.details::text AS same, a.details::text AS swift,
                           b.details::text AS sql
                    FROM events a, events b
                    WHERE a.id = \(swift) AND b.id = (SELECT max(id) FROM events) AND b.id <> a.id
                    """
                )[0]
                let (swiftText, sqlText) = (try compared.decode("swift", as: String.self), try compared.decode("sql", as: String.self))
                #expect(try compared.decode("same", as: Bool.self), "\(kind): Swift \(swiftText) vs SQL \(sqlText)")
            }
        }
    }
}

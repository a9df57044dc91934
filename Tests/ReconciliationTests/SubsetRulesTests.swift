import Foundation
import IdentityMap
import Reconciliation
import Testing

/// A campaign over a subset waits only for its members, and a member whose person went into
/// another campaign's target is a case of its own.
@Suite("Reconciliation rules for subsets", .timeLimit(.minutes(2)))
struct SubsetRulesTests {
    let source = PoolID("us-east-1_Old")!
    let elsewhere = PoolID("ap-south-1_Other")!
    let person = UUID()

    func evidence(inSubset: Bool = true, elsewhere: [PoolID] = [], migrated: Bool = false) -> ReconcileRules.CognitoUserEvidence {
        ReconcileRules.CognitoUserEvidence(
            user: ReconcileRules.SnapshotUser(pool: source, sub: "8f2b7a4e-1c3d-4e5f-9a0b-1c2d3e4f5a6b", username: "ann"),
            role: .source, mapped: ReconcileRules.MappedIdentity(person: person), migrated: migrated, inSubset: inSubset,
            elsewhere: elsewhere
        )
    }

    @Test("a member not in the target is unmigrated; a user outside the subset is nothing at all")
    func members() throws {
        let member = try #require(ReconcileRules.classify(evidence()).first)
        #expect(member.kind == .unmigrated && member.userID == person)
        #expect(ReconcileRules.classify(evidence(inSubset: false)).isEmpty)
        #expect(ReconcileRules.classify(evidence(inSubset: false, elsewhere: [elsewhere])).isEmpty)
    }

    @Test("a member active in another campaign's target: migrated_elsewhere, naming that pool, and not unmigrated")
    func migratedElsewhere() throws {
        let found = ReconcileRules.classify(evidence(elsewhere: [elsewhere]))
        #expect(found.map(\.kind) == [.migratedElsewhere])
        let finding = try #require(found.first)
        #expect(finding.reason == "in_other_campaign_target")
        #expect(finding.evidence["target_pools"] == .array([.string(elsewhere.rawValue)]))
        #expect(finding.subject == ReconcileRules.subject(pool: source, sub: "8f2b7a4e-1c3d-4e5f-9a0b-1c2d3e4f5a6b"))
        // Migrated here as well: nothing to say.
        #expect(ReconcileRules.classify(evidence(elsewhere: [elsewhere], migrated: true)).isEmpty)
    }

    @Test("counts read and written with every kind, the new one under its contract name")
    func counts() throws {
        var counts = FindingCounts()
        counts[.migratedElsewhere] = 2
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(counts)) as? [String: Int])
        #expect(object["migrated_elsewhere"] == 2 && object.count == FindingKind.allCases.count)
        #expect(try JSONDecoder().decode(FindingCounts.self, from: JSONEncoder().encode(counts)) == counts)
    }
}

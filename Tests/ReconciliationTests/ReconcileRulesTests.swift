import Foundation
import IdentityMap
import Reconciliation
import Testing

/// Every reconciliation rule, its reasons and its refusals, without a database: the SQL only
/// gathers these facts, so what a run concludes is decided here.
@Suite("Reconciliation rules", .timeLimit(.minutes(2)))
struct ReconcileRulesTests {
    let source = PoolID("us-east-1_Old")!
    let target = PoolID("eu-west-1_New")!
    let a = UUID()
    let b = UUID()
    let sub = "8f2b7a4e-1c3d-4e5f-9a0b-1c2d3e4f5a6b"
    let otherSub = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"

    func user(
        _ pool: PoolID? = nil, email: String? = "ann@example.com", verified: Bool = true, enabled: Bool = true,
        attribute: String? = nil, provider: String = "Cognito", providerUserID: String? = nil
    ) -> ReconcileRules.SnapshotUser {
        ReconcileRules.SnapshotUser(
            pool: pool ?? source, sub: sub, username: "ann", email: email, emailVerified: verified, enabled: enabled,
            provider: provider, providerUserID: providerUserID, stableIDAttribute: attribute
        )
    }

    func mapped(
        _ person: UUID, status: IdentityStatus = .active, email: String? = "ann@example.com", verified: Bool = true,
        personStatus: UserStatus = .active
    ) -> ReconcileRules.MappedIdentity {
        ReconcileRules.MappedIdentity(person: person, personStatus: personStatus, status: status, email: email, emailVerified: verified)
    }

    func kinds(_ findings: [ReconcileRules.DetectedFinding]) -> [FindingKind] { findings.map(\.kind).sorted() }

    // MARK: Clean subjects

    @Test("a user whose facts all agree gives no finding, in a source, target or campaign-less pool")
    func clean() {
        let migratedSource = ReconcileRules.CognitoUserEvidence(user: user(), role: .source, mapped: mapped(a), migrated: true)
        #expect(ReconcileRules.classify(migratedSource).isEmpty)
        let targetUser = ReconcileRules.CognitoUserEvidence(
            user: user(target, attribute: a.uuidString.lowercased()), role: .target, mapped: mapped(a),
            attributeTarget: .init(person: a, corroborated: true)
        )
        #expect(ReconcileRules.classify(targetUser).isEmpty)
        #expect(ReconcileRules.classify(.init(user: user(), role: .other, mapped: mapped(a))).isEmpty)
        #expect(ReconcileRules.classify(.init(user: user(enabled: false), role: .other, mapped: mapped(a, status: .disabled))).isEmpty)
    }

    @Test("a sub unlinked on purpose is left alone: not unmapped, not stale, not unmigrated")
    func unlinked() {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(email: "other@example.com"), role: .source, mapped: mapped(a, status: .unlinked), migrated: false
        )
        #expect(ReconcileRules.classify(evidence).isEmpty)
    }

    // MARK: unmapped

    @Test("a Cognito user the map lacks is unmapped, keyed pool/sub, with facts but no email or username")
    func unmapped() throws {
        let found = ReconcileRules.classify(.init(user: user(), role: .source))
        let finding = try #require(found.first)
        #expect(found.count == 1)
        #expect(finding.kind == .unmapped)
        #expect(finding.subject == "us-east-1_Old/\(sub)")
        #expect(finding.pool == source && finding.sub == sub && finding.userID == nil)
        #expect(finding.reason == "not_in_map")
        #expect(finding.evidence["enabled"] == .bool(true))
        #expect(!JSONValue.object(finding.evidence).canonicalText.contains("ann"))
    }

    @Test("deleted and created again (same username, new sub): unmapped with the identity it replaced, never a conflict")
    func recreated() throws {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(attribute: b.uuidString), role: .source, previousIdentity: .init(sub: otherSub, person: a)
        )
        let found = ReconcileRules.classify(evidence)
        #expect(kinds(found) == [.unmapped])
        let finding = try #require(found.first)
        #expect(finding.reason == "recreated")
        #expect(finding.evidence["previous_sub"] == .string(otherSub))
        #expect(finding.evidence["previous_user"] == .string(a.uuidString.lowercased()))
    }

    @Test("an unmapped target user is linkable only to an active person its attribute names and other evidence corroborates")
    func linkTarget() throws {
        func evidence(
            role: ReconcileRules.PoolRole = .target, status: UserStatus = .active, corroborated: Bool = true
        ) -> ReconcileRules.CognitoUserEvidence {
            let attribute = ReconcileRules.AttributeTarget(person: a, status: status, corroborated: corroborated)
            return ReconcileRules.CognitoUserEvidence(
                user: user(target, attribute: a.uuidString), role: role, attributeTarget: attribute
            )
        }
        #expect(ReconcileRules.linkTarget(evidence()) == a)
        let finding = try #require(ReconcileRules.classify(evidence()).first)
        #expect(finding.kind == .unmapped)
        #expect(finding.evidence["link_to"] == .string(a.uuidString.lowercased()))
        #expect(finding.evidence["attribute_corroborated"] == .bool(true))
        // App clients can write the attribute: on its own it links nobody.
        #expect(ReconcileRules.linkTarget(evidence(corroborated: false)) == nil)
        #expect(ReconcileRules.classify(evidence(corroborated: false)).first?.evidence["link_to"] == nil)
        #expect(ReconcileRules.linkTarget(evidence(status: .deleted)) == nil)
        #expect(ReconcileRules.linkTarget(evidence(role: .source)) == nil)
        #expect(ReconcileRules.linkTarget(evidence(role: .other)) == nil)
        // A mapped user is never linked again.
        var mappedUser = evidence()
        mappedUser.mapped = mapped(b)
        #expect(ReconcileRules.linkTarget(mappedUser) == nil)
    }

    // MARK: stale

    @Test("emails compare after normalization: case, white space and Unicode compatibility forms are not stale")
    func emailNormalization() {
        let same: [(String, String)] = [
            ("Ann@Example.COM", "ann@example.com"),
            (" ann@example.com ", "ann@example.com"),
            ("ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ", "ann@example.com"),  // full-width (NFKC)
            ("jose\u{301}@example.com", "jos\u{E9}@example.com"),  // decomposed vs precomposed
        ]
        for (pool, map) in same {
            let evidence = ReconcileRules.CognitoUserEvidence(user: user(email: pool), role: .other, mapped: mapped(a, email: map))
            #expect(ReconcileRules.classify(evidence).isEmpty, "\(pool) vs \(map)")
        }
        #expect(ReconcileRules.emailKey("not an address") == nil)
        #expect(ReconcileRules.emailKey(nil) == nil)
    }

    @Test("a different email, verified flag or enabled state is stale, naming exactly the fields that differ")
    func staleFields() throws {
        func fields(_ user: ReconcileRules.SnapshotUser, _ map: ReconcileRules.MappedIdentity) -> [String] {
            ReconcileRules.staleFields(user, map)
        }
        #expect(fields(user(email: "new@example.com"), mapped(a)) == ["email"])
        #expect(fields(user(verified: false), mapped(a)) == ["email_verified"])
        #expect(fields(user(enabled: false), mapped(a)) == ["enabled"])
        #expect(fields(user(), mapped(a, status: .disabled)) == ["enabled"])
        #expect(fields(user(email: nil, verified: false), mapped(a)) == ["email", "email_verified"])
        // Without an address on either side the verified flag means nothing.
        #expect(fields(user(email: nil, verified: true), mapped(a, email: nil, verified: false)).isEmpty)
        // An address the map would refuse counts as none.
        #expect(fields(user(email: "garbage", verified: false), mapped(a, email: nil, verified: false)).isEmpty)

        let finding = try #require(
            ReconcileRules.classify(.init(user: user(email: "new@example.com", enabled: false), role: .other, mapped: mapped(a))).first
        )
        #expect(finding.kind == .stale)
        #expect(finding.userID == a)
        #expect(finding.reason == "attributes_differ")
        #expect(finding.evidence["fields"] == .array(["email", "enabled"]))
        #expect(finding.evidence["pool_enabled"] == .bool(false))
        #expect(finding.evidence["map_status"] == .string("active"))
        // Which side has an address, never the addresses.
        #expect(finding.evidence["pool_has_email"] == .bool(true))
        #expect(!JSONValue.object(finding.evidence).canonicalText.contains("example.com"))
    }

    @Test("an identity the map calls deleted while the pool still has the user is stale (status), nothing else")
    func deletedInMap() throws {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(attribute: b.uuidString), role: .source, mapped: mapped(a, status: .deleted), migrated: false,
            attributeTarget: .init(person: b)
        )
        let found = ReconcileRules.classify(evidence)
        #expect(kinds(found) == [.stale])
        #expect(found.first?.reason == "deleted_in_map")
        #expect(found.first?.evidence["fields"] == .array(["status"]))
    }

    @Test("an identity the map changed after the pool's snapshot started is not judged stale: the map may be the newer one")
    func staleAfterSnapshot() {
        let changed = mapped(a, status: .deleted)
        var newer = changed
        newer.changedSinceSnapshot = true
        let differing = user(email: "new@example.com", enabled: false)
        #expect(kinds(ReconcileRules.classify(.init(user: differing, role: .other, mapped: changed))) == [.stale])
        #expect(ReconcileRules.classify(.init(user: differing, role: .other, mapped: newer)).isEmpty)
        var active = mapped(a)
        active.changedSinceSnapshot = true
        #expect(ReconcileRules.classify(.init(user: differing, role: .other, mapped: active)).isEmpty)
    }

    // MARK: conflict

    @Test("the stable-ID attribute naming another person than the map is a conflict")
    func conflict() throws {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(target, attribute: b.uuidString.lowercased()), role: .target, mapped: mapped(a),
            attributeTarget: .init(person: b, status: .active)
        )
        let finding = try #require(ReconcileRules.classify(evidence).first)
        #expect(ReconcileRules.classify(evidence).count == 1)
        #expect(finding.kind == .conflict)
        #expect(finding.reason == "names_other_user")
        #expect(finding.userID == a)
        #expect(finding.evidence["attribute_user"] == .string(b.uuidString.lowercased()))
        #expect(finding.evidence["map_user"] == .string(a.uuidString.lowercased()))
    }

    @Test("an attribute naming a merged ID whose survivor is the map's person agrees (the SQL hands over the survivor)")
    func attributeFollowsMerges() {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(target, attribute: UUID().uuidString), role: .target, mapped: mapped(a), attributeTarget: .init(person: a)
        )
        #expect(ReconcileRules.classify(evidence).isEmpty)
    }

    @Test("an attribute that is no user id, or names no user, is a conflict with its own reason; an empty one is nothing")
    func attributeNamesNobody() {
        let garbage = ReconcileRules.CognitoUserEvidence(user: user(attribute: "not-a-uuid"), role: .other, mapped: mapped(a))
        #expect(ReconcileRules.classify(garbage).map(\.reason) == ["not_a_user_id"])
        let unknown = ReconcileRules.CognitoUserEvidence(user: user(attribute: UUID().uuidString), role: .other, mapped: mapped(a))
        #expect(ReconcileRules.classify(unknown).map(\.reason) == ["names_unknown_user"])
        let empty = ReconcileRules.CognitoUserEvidence(user: user(attribute: "  "), role: .other, mapped: mapped(a))
        #expect(ReconcileRules.classify(empty).isEmpty)
    }

    // MARK: unmigrated

    @Test("an enabled source user whose active person has no active target identity is unmigrated")
    func unmigrated() throws {
        let evidence = ReconcileRules.CognitoUserEvidence(user: user(), role: .source, mapped: mapped(a), migrated: false)
        let finding = try #require(ReconcileRules.classify(evidence).first)
        #expect(ReconcileRules.classify(evidence).count == 1)
        #expect(finding.kind == .unmigrated)
        #expect(finding.userID == a)
        #expect(finding.subject == "us-east-1_Old/\(sub)")
        #expect(finding.reason == "no_active_target_identity")
    }

    @Test("disabled users, migrated people, inactive people, target and campaign-less pools are not unmigrated")
    func notUnmigrated() {
        let cases: [ReconcileRules.CognitoUserEvidence] = [
            .init(user: user(enabled: false), role: .source, mapped: mapped(a, status: .disabled), migrated: false),
            .init(user: user(), role: .source, mapped: mapped(a), migrated: true),
            .init(user: user(), role: .source, mapped: mapped(a, personStatus: .deleted), migrated: false),
            .init(user: user(target), role: .target, mapped: mapped(a), migrated: false),
            .init(user: user(), role: .other, mapped: mapped(a), migrated: nil),
        ]
        for evidence in cases {
            #expect(!kinds(ReconcileRules.classify(evidence)).contains(.unmigrated))
        }
        // The map saying disabled does not excuse a user the pool has enabled (that is also stale).
        let disabledInMap = ReconcileRules.CognitoUserEvidence(
            user: user(), role: .source, mapped: mapped(a, status: .disabled), migrated: false
        )
        #expect(kinds(ReconcileRules.classify(disabledInMap)) == [.stale, .unmigrated])
    }

    @Test("a federated source user is unmigrated like any other, with its provider in the evidence")
    func federatedUnmigrated() throws {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(provider: "Google", providerUserID: "1234567890"), role: .source, mapped: mapped(a), migrated: false
        )
        let finding = try #require(ReconcileRules.classify(evidence).first)
        #expect(finding.kind == .unmigrated)
        #expect(finding.evidence["provider"] == .string("Google"))
    }

    @Test("one user can be stale, in conflict and unmigrated at once")
    func several() {
        let evidence = ReconcileRules.CognitoUserEvidence(
            user: user(verified: false, attribute: b.uuidString), role: .source, mapped: mapped(a), migrated: false,
            attributeTarget: .init(person: b)
        )
        #expect(kinds(ReconcileRules.classify(evidence)) == [.conflict, .stale, .unmigrated])
    }

    // MARK: orphaned

    @Test("a live identity whose Cognito user is gone is orphaned; replaced under its username, the reason is recreated")
    func orphanedIdentity() throws {
        let gone = try #require(ReconcileRules.classify(.init(pool: source, sub: sub, person: a, status: .active)))
        #expect(gone.kind == .orphaned)
        #expect(gone.subject == "us-east-1_Old/\(sub)")
        #expect(gone.userID == a)
        #expect(gone.reason == "not_in_pool")
        let disabled = try #require(ReconcileRules.classify(.init(pool: source, sub: sub, person: a, status: .disabled)))
        #expect(disabled.evidence["map_status"] == .string("disabled"))
        let replaced = try #require(
            ReconcileRules.classify(.init(pool: source, sub: sub, person: a, status: .active, replacedBySub: otherSub))
        )
        #expect(replaced.kind == .orphaned)
        #expect(replaced.reason == "recreated")
        #expect(replaced.evidence["replaced_by_sub"] == .string(otherSub))
    }

    @Test("identities already deleted or unlinked are not orphaned")
    func notOrphanedIdentity() {
        for status in [IdentityStatus.deleted, .unlinked] {
            let evidence = ReconcileRules.MissingIdentityEvidence(pool: source, sub: sub, person: a, status: status)
            #expect(ReconcileRules.classify(evidence) == nil)
        }
    }

    @Test("an identity linked or changed after its pool's snapshot started is never orphaned: a user created mid-scan is not gone")
    func notOrphanedAfterSnapshot() {
        for status in [IdentityStatus.active, .disabled] {
            let evidence = ReconcileRules.MissingIdentityEvidence(
                pool: source, sub: sub, person: a, status: status, changedSinceSnapshot: true
            )
            #expect(ReconcileRules.classify(evidence) == nil)
        }
        let replaced = ReconcileRules.MissingIdentityEvidence(
            pool: source, sub: sub, person: a, status: .active, replacedBySub: otherSub, changedSinceSnapshot: true
        )
        #expect(ReconcileRules.classify(replaced) == nil)
    }

    @Test("a person with no live identity left is orphaned, keyed by user")
    func orphanedPerson() throws {
        let finding = try #require(ReconcileRules.classify(ReconcileRules.PersonEvidence(person: a, liveIdentities: 0)))
        #expect(finding.kind == .orphaned)
        #expect(finding.subject == "user:\(a.uuidString.lowercased())")
        #expect(finding.pool == nil && finding.sub == nil && finding.userID == a)
        #expect(finding.reason == "no_live_identity")
        #expect(ReconcileRules.classify(ReconcileRules.PersonEvidence(person: a, liveIdentities: 1)) == nil)
    }

    // MARK: duplicate

    @Test("one person with two active identities in one pool is a duplicate keyed by user and pool")
    func duplicateInPool() throws {
        let finding = try #require(
            ReconcileRules.classify(ReconcileRules.PoolIdentitiesEvidence(person: a, pool: target, activeSubs: [sub, otherSub]))
        )
        #expect(finding.kind == .duplicate)
        #expect(finding.subject == "user:\(a.uuidString.lowercased())/eu-west-1_New")
        #expect(finding.evidence["subs"] == .array([.string(otherSub), .string(sub)]))
        #expect(ReconcileRules.classify(ReconcileRules.PoolIdentitiesEvidence(person: a, pool: target, activeSubs: [sub])) == nil)
        #expect(ReconcileRules.classify(ReconcileRules.PoolIdentitiesEvidence(person: a, pool: target, activeSubs: [sub, sub])) == nil)
    }

    @Test("two people sharing a verified email across pools are a duplicate; the same person twice is not")
    func sharedEmail() throws {
        typealias Member = ReconcileRules.SharedAccountEvidence.Member
        let key = ReconcileRules.SharedAccountEvidence.Key.verifiedEmail(digest: "ab12")
        // A user who signed up afresh in the target pool (a new person) instead of migrating.
        let twoPeople = ReconcileRules.SharedAccountEvidence(
            key: key, members: [Member(pool: target, sub: otherSub, person: b), Member(pool: source, sub: sub, person: a)]
        )
        let finding = try #require(ReconcileRules.classify(twoPeople))
        #expect(finding.kind == .duplicate)
        #expect(finding.subject == "email:ab12")
        #expect(finding.reason == "shared_verified_email")
        #expect(finding.pool == nil && finding.userID == nil)
        #expect(finding.evidence["users"] == .array([a, b].map { $0.uuidString.lowercased() }.sorted().map(JSONValue.string)))
        // Members are listed in pool order whatever order they came in.
        #expect(finding.evidence["members"]?.arrayValue?.first?["pool"] == .string("eu-west-1_New"))

        let migrated = ReconcileRules.SharedAccountEvidence(
            key: key, members: [Member(pool: source, sub: sub, person: a), Member(pool: target, sub: otherSub, person: a)]
        )
        #expect(ReconcileRules.classify(migrated) == nil)
        let alone = ReconcileRules.SharedAccountEvidence(key: key, members: [Member(pool: source, sub: sub, person: a)])
        #expect(ReconcileRules.classify(alone) == nil)
    }

    @Test("users the map lacks count as people of their own in a shared-account duplicate")
    func sharedWithUnmapped() throws {
        typealias Member = ReconcileRules.SharedAccountEvidence.Member
        let key = ReconcileRules.SharedAccountEvidence.Key.verifiedEmail(digest: "ab12")
        let mappedAndNot = ReconcileRules.SharedAccountEvidence(
            key: key, members: [Member(pool: source, sub: sub, person: a), Member(pool: target, sub: otherSub, person: nil)]
        )
        let finding = try #require(ReconcileRules.classify(mappedAndNot))
        #expect(finding.evidence["unmapped_members"] == .number(1))
        let bothUnmapped = ReconcileRules.SharedAccountEvidence(
            key: key, members: [Member(pool: source, sub: sub, person: nil), Member(pool: target, sub: otherSub, person: nil)]
        )
        #expect(ReconcileRules.classify(bothUnmapped) != nil)
    }

    @Test("a member whose identity is unlinked or deleted owns nothing: it neither makes an account shared nor counts as unmapped")
    func sharedWithRetired() throws {
        typealias Member = ReconcileRules.SharedAccountEvidence.Member
        let key = ReconcileRules.SharedAccountEvidence.Key.verifiedEmail(digest: "ab12")
        for status in [IdentityStatus.unlinked, .deleted] {
            let retired = Member(pool: target, sub: otherSub, person: nil, identityStatus: status)
            #expect(retired.owner == nil)
            let withPerson = ReconcileRules.SharedAccountEvidence(key: key, members: [Member(pool: source, sub: sub, person: a), retired])
            #expect(ReconcileRules.classify(withPerson) == nil, "\(status)")
            // Still listed when others make the account shared, with its map status.
            let third = Member(pool: source, sub: "11111111-2222-4333-8444-555555555555", person: b)
            let finding = try #require(
                ReconcileRules.classify(.init(key: key, members: [Member(pool: source, sub: sub, person: a), retired, third]))
            )
            #expect(finding.evidence["unmapped_members"] == .number(0))
            let listed = finding.evidence["members"]?.arrayValue?.first { $0["sub"] == .string(otherSub) }
            #expect(listed?["map_status"] == .string(status.rawValue))
        }
        // Live identities own through their person; a user the map lacks, through itself.
        #expect(Member(pool: source, sub: sub, person: a, identityStatus: .disabled).owner == a.uuidString)
        #expect(Member(pool: source, sub: sub, person: nil).owner == "us-east-1_Old/\(sub)")
    }

    @Test("two people sharing one federated account (provider, user id) are a duplicate keyed by that account")
    func sharedFederated() throws {
        typealias Member = ReconcileRules.SharedAccountEvidence.Member
        let evidence = ReconcileRules.SharedAccountEvidence(
            key: .federated(provider: "Google", userID: "1234567890"),
            members: [Member(pool: source, sub: sub, person: a), Member(pool: target, sub: otherSub, person: b)]
        )
        let finding = try #require(ReconcileRules.classify(evidence))
        #expect(finding.kind == .duplicate)
        #expect(finding.subject == "federated:Google:1234567890")
        #expect(finding.reason == "shared_federated_account")
    }

    // MARK: Events

    @Test("finding events keep personal subjects (email digest, federated account) out of their details, in personal data")
    func personalSubjects() {
        let email = ReconcileRules.subject(.verifiedEmail(digest: "ab12"))
        let federated = ReconcileRules.subject(.federated(provider: "Google", userID: "1234567890"))
        for subject in [email, federated] {
            #expect(ReconcileRules.isPersonal(subject: subject))
            #expect(FindingEventSubject.details(subject).isEmpty)
            #expect(FindingEventSubject.personal(subject) == ["subject": .string(subject)])
        }
        let ids = [
            ReconcileRules.subject(pool: source, sub: sub), ReconcileRules.subject(person: a),
            ReconcileRules.subject(person: a, pool: target),
        ]
        for subject in ids {
            #expect(!ReconcileRules.isPersonal(subject: subject))
            #expect(FindingEventSubject.details(subject) == ["subject": .string(subject)])
            #expect(FindingEventSubject.personal(subject).isEmpty)
        }
    }

    @Test("an acknowledgement's reason is personal data, never a detail of its event")
    func acknowledgementReason() {
        let details = FindingAcknowledgedDetails(findings: [3, 1], until: nil).json
        #expect(details["reason"] == nil)
        #expect(details["count"] == .number(2))
        #expect(FindingAcknowledgedDetails.personal(reason: "TICKET-42") == ["reason": .string("TICKET-42")])
    }

    // MARK: Scope

    @Test("a scope keys its findings and lock by campaign, or by its sorted pools; roles follow the campaign")
    func scope() throws {
        let campaign = UUID()
        let scope = ReconcileScope(campaignID: campaign, target: target, sources: [source])
        #expect(scope.key == "campaign:\(campaign.uuidString.lowercased())")
        #expect(scope.pools == [target, source].sorted())
        #expect(scope.role(of: source) == .source)
        #expect(scope.role(of: target) == .target)
        let pools = try ReconcileScope(pools: [target, source, target])
        #expect(pools.key == "pools:eu-west-1_New,us-east-1_Old")
        #expect(pools.role(of: source) == .other)
        #expect(throws: ReconciliationError.self) { try ReconcileScope(pools: []) }
        #expect(throws: ReconciliationError.self) { try ReconcileScope(pools: [source], stableIDAttribute: "stable_id") }
        #expect(try ReconcileScope(pools: [source], stableIDAttribute: "custom:stable_id").stableIDAttribute == "custom:stable_id")
    }

    @Test("only stale, orphaned and unmapped findings can be fixed")
    func fixRequest() throws {
        #expect(try FixRequest(kinds: [.stale, .orphaned, .unmapped], apply: false).kinds.count == 3)
        #expect(throws: ReconciliationError.self) { try FixRequest(kinds: [.conflict], apply: true) }
        #expect(throws: ReconciliationError.self) { try FixRequest(kinds: [], apply: true) }
        #expect(throws: ReconciliationError.self) { try FixRequest(kinds: [.orphaned], apply: true, maxOrphanedShare: 0) }
    }
}

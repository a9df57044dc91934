import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// `reconcile --fix unmapped` trusts what the triggers trust (docs/SECURITY.md): a target user
/// who signed up with a victim's username and named the victim's ID in a client-writable
/// attribute is left for a person to judge; one whose verified email agrees is linked.
@Suite("stableid reconcile: takeover-proof fixes", .timeLimit(.minutes(5)))
struct ReconcileTakeoverTests {
    @Test("--fix unmapped links on a verified email backing the attribute, never on a username a sign-up chose")
    func fixUnmappedNeedsProofOfControl() async throws {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "tk-old-\(suffix)")
        let target = try await client.createUserPool(name: "tk-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        // The app's client of the target: WriteAttributes unset, so users can write custom:stable_id.
        _ = try await client.createUserPoolClient(poolID: target, name: "app")
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        func create(_ pool: String, _ username: String, _ attributes: [String: String]) async throws -> String {
            let user = try await client.createTestUser(
                poolID: pool, username: username, attributes: attributes.map { AttributeType($0.key, $0.value) })
            return try #require(user.attribute("sub"))
        }
        _ = try await create(source, "victim", ["email": "victim@example.com", "email_verified": "true"])
        _ = try await create(source, "nina", ["email": "nina@example.com", "email_verified": "true"])
        #expect(try CLI.run(["import", "--pool", source], environment: env).status == 0)
        func person(_ username: String) throws -> String {
            try db.rows("SELECT user_id::text AS id FROM identities WHERE pool_id = \(source) AND username = \(username)")[0].decode("id")
        }
        let (victim, nina) = (try person("victim"), try person("nina"))
        let created = try CLI.run(
            [
                "campaign", "create", "--source", source, "--target", target, "--name", "tk-\(suffix)", "--stable-id-attribute",
                "custom:stable_id",
            ],
            environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        // What the target's facts mean is said, not silently applied.
        #expect(created.stdout.contains("admits self sign-up"), "\(created.stdout)")
        #expect(created.stdout.contains("custom:stable_id is writable by app clients"), "\(created.stdout)")
        #expect(try db.count("campaigns", where: "target_self_sign_up AND cardinality(target_attribute_writers) = 1") == 1)
        // A second app client that writes everything: the next live run records the change.
        _ = try await client.createUserPoolClient(poolID: target, name: "second-app")
        let attacker = try await create(target, "victim", ["email": "mallory@example.net", "custom:stable_id": victim])
        let legitimate = try await create(
            target, "nina", ["email": "nina@example.com", "email_verified": "true", "custom:stable_id": nina])

        let run = try CLI.run(
            ["reconcile", "--campaign", "tk-\(suffix)", "--fix", "unmapped", "--apply", "--format", "json"], environment: env)
        #expect([0, 1].contains(run.status), "\(run.stdout) \(run.stderr)")
        func owner(_ sub: String) throws -> String? {
            try db.rows("SELECT user_id::text AS id FROM identities WHERE pool_id = \(target) AND sub = \(sub)").first?.decode("id")
        }
        #expect(try owner(attacker) == nil, "the fixer linked a self sign-up to the victim by username and a writable attribute")
        #expect(try owner(legitimate) == nina)
        #expect(try db.count("findings", where: "kind = 'unmapped' AND state = 'open' AND sub = '\(attacker)'") == 1)
        #expect(try db.count("events", where: "kind = 'campaign_target_facts_changed'") == 1)
        #expect(try db.count("campaigns", where: "cardinality(target_attribute_writers) = 2") == 1)
        let json = try CLI.run(["campaign", "show", "tk-\(suffix)", "--format", "json"], environment: env)
        let row = (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: String]])?.first ?? [:]
        #expect(row["target_self_sign_up"] == "true" && row["target_sign_in_by_email"] == "false", "\(json.stdout)")
        let shown = try CLI.run(["campaign", "show", "tk-\(suffix)"], environment: env)
        #expect(shown.status == 0 && shown.stdout.contains("--link-by username: links only when"), "\(shown.stdout)")
        // The same facts read again are no new event.
        _ = try CLI.run(["reconcile", "--campaign", "tk-\(suffix)", "--format", "json"], environment: env)
        #expect(try db.count("events", where: "kind = 'campaign_target_facts_changed'") == 1)
    }
}

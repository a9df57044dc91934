import Cognito
import CognitoIngest
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Logging
import Postgres
import TestSupport
import Testing
import UserMigration

/// Each way someone could come to hold another person's stable ID, tried as an attacker would
/// against moto (docs/SECURITY.md): the target pool admits self sign-up (Cognito's default)
/// unless a test says otherwise, and the campaign links by username with `custom:stable_id`.
/// Beside every attack, the legitimate path it resembles, which must keep linking.
@Suite("Takeover attempts", .timeLimit(.minutes(5)))
struct TakeoverTests {
    typealias World = TriggerFlowTests.World

    /// A sign-in (post-authentication) or token event for a target user, as Cognito sends it.
    static func signIn(_ w: World, username: String, attributes: [String: String], token: Bool = false) throws -> String {
        token
            ? try TriggerFlowTests.tokenEvent(pool: w.new, username: username, attributes: attributes, version: "2")
            : try TriggerFlowTests.postAuthEvent(pool: w.new, username: username, attributes: attributes)
    }

    static func owner(_ w: World, sub: String, client: any TestClientProtocol) async throws -> String? {
        let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(sub)", token: w.resolver)
        return resolved.json["user_id"] as? String
    }

    @Test(
        "self sign-up under a victim's username, post-confirmation never seen: neither sign-in nor token links the new sub to the victim",
        arguments: [false, true])
    func signUpWithVictimsUsername(token: Bool) async throws {
        let w = try await World.make(targetClient: .writesEverything)
        let victim = try await w.sourceUser("victim", password: "Old-Passw0rd!", email: "victim@example.com")
        // The attacker signs up in the target as "victim" with a mailbox of their own, unverified;
        // the post-confirmation trigger was not wired (or failed): StableID first hears of the sub now.
        let sub = try await w.createInNew("victim", attributes: ["email": "mallory@example.net"])
        let attributes = ["sub": sub, "email": "mallory@example.net", "email_verified": "false"]
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(w, username: "victim", attributes: attributes, token: token)
            )
            #expect(reply.status == 200, "\(reply)")
            #expect(!reply.text.contains(victim), "the token carries the victim's stable ID: \(reply)")
            let owner = try #require(try await Self.owner(w, sub: sub, client: client))
            #expect(owner != victim, "a self sign-up took over the victim by username")
        }
    }

    @Test("self sign-up naming the victim's ID in a client-writable custom:stable_id, with the victim's username: no link")
    func writableAttributeCorroboratedByUsername() async throws {
        let w = try await World.make(targetClient: .writesEverything)
        let victim = try await w.sourceUser("victim", password: "Old-Passw0rd!", email: "victim@example.com")
        let sub = try await w.createInNew("victim", attributes: ["custom:stable_id": victim])
        try await w.api.test { client in
            for token in [false, true] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger,
                    json: try Self.signIn(w, username: "victim", attributes: ["sub": sub, "custom:stable_id": victim], token: token)
                )
                #expect(reply.status == 200, "\(reply)")
                if token { #expect(!reply.text.contains("\"stable_id\":\"\(victim)\""), "\(reply)") }
            }
            #expect(try await Self.owner(w, sub: sub, client: client) != victim)
        }
    }

    @Test("legitimate: a user an administrator created in the target with the same username and the same verified email links")
    func importedUserWithVerifiedEmailLinks() async throws {
        let w = try await World.make(targetClient: .writesEverything)
        let person = try await w.sourceUser("grace", password: "Old-Passw0rd!", email: "grace@example.com")
        let sub = try await w.createInNew("grace", attributes: ["email": "grace@example.com", "email_verified": "true"])
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(
                    w, username: "grace", attributes: ["sub": sub, "email": "grace@example.com", "email_verified": "true"])
            )
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: sub, client: client) == person)
        }
    }

    @Test(
        "in a pool that admits no self sign-up the username is an administrator's and links; a writable attribute, which users rewrite, does not"
    )
    func adminOnlyPoolLinksByUsername() async throws {
        let w = try await World.make(targetAdminOnly: true, targetClient: .writesEverything)
        let person = try await w.sourceUser("henry", password: "Old-Passw0rd!")
        let other = try await w.sourceUser("iris", password: "Old-Passw0rd!")
        let henry = try await w.createInNew("henry", attributes: [:])
        let iris = try await w.createInNew("iris.new", attributes: ["custom:stable_id": other])
        try await w.api.test { client in
            for (username, attributes) in [("henry", ["sub": henry]), ("iris.new", ["sub": iris, "custom:stable_id": other])] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger, json: try Self.signIn(w, username: username, attributes: attributes))
                #expect(reply.status == 200, "\(reply)")
            }
            #expect(try await Self.owner(w, sub: henry, client: client) == person)
            #expect(try await Self.owner(w, sub: iris, client: client) != other)
        }
    }

    @Test("legitimate: a stable-ID attribute no app client can write (written by finalize or an administrator) links on its own")
    func readOnlyAttributeLinks() async throws {
        let w = try await World.make(targetClient: .writes(["email", "name"]))
        let person = try await w.sourceUser("jack", password: "Old-Passw0rd!")
        let sub = try await w.createInNew("jack.new", attributes: ["custom:stable_id": person])
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(w, username: "jack.new", attributes: ["sub": sub, "custom:stable_id": person]))
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: sub, client: client) == person)
        }
    }

    @Test("an SMS-MFA source user is not migrated CONFIRMED on the password alone: RESET_REQUIRED, and the event says why")
    func mfaUserMigratesResetRequired() async throws {
        let w = try await World.make()
        let person = try await w.sourceUser("kate", password: "Old-Passw0rd!")
        try await w.cognito.adminUpdateUserAttributes(
            poolID: w.old, username: "kate",
            attributes: [AttributeType("phone_number", "+15555550100"), AttributeType("phone_number_verified", "true")])
        try await w.cognito.adminSetSMSMFAPreference(poolID: w.old, username: "kate")
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "kate", password: "Old-Passw0rd!"))
            #expect(reply.status == 200, "\(reply)")
            #expect(TriggerFlowTests.responseObject(reply)["finalUserStatus"] as? String == "RESET_REQUIRED", "\(reply)")
        }
        let event = try w.api.db.rows(
            "SELECT details->>'challenge' AS challenge, details->>'mfa' AS mfa, user_id::text AS person FROM events WHERE kind = 'migration_succeeded'"
        )
        #expect(event.count == 1)
        #expect(try event.first?.decode("challenge", as: String.self) == "SMS_MFA")
        #expect(try event.first?.decodeIfPresent("mfa", as: String.self) == "reset")
        #expect(try event.first?.decode("person", as: String.self) == person)
    }

    @Test("an unknown user and a wrong password answer alike, and the unknown username is not stored")
    func unknownAndWrongPasswordAnswerAlike() async throws {
        let w = try await World.make()
        try await w.sourceUser("leo", password: "Right-Passw0rd!")
        try await w.api.test { client in
            let wrong = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "leo", password: "Wrong-Passw0rd!"))
            let unknown = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "typo-leo@example.com", password: "Whatever-1!"))
            #expect(wrong.status == unknown.status && wrong.code == unknown.code, "\(wrong) vs \(unknown)")
            #expect(
                wrong.json["detail"] as? String == unknown.json["detail"] as? String
                    && wrong.json["title"] as? String == unknown.json["title"] as? String)
        }
        // The wrong password is the known person's event; the typo is nowhere.
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed' AND user_id IS NOT NULL") == 1)
        let everything = try w.api.db.rows(
            "SELECT coalesce(string_agg(e.details::text || coalesce(p.data::text, ''), ' '), '') AS all FROM events e LEFT JOIN event_personal_data p ON p.event_id = e.id"
        )[0]
        #expect(try !(everything.decode("all", as: String.self).contains("typo-leo")))
    }

    @Test("with --mfa-users refuse, an MFA source user is refused as a wrong password is, and the event names the challenge")
    func mfaUserRefused() async throws {
        let w = try await World.make(mfaUsers: .refuse)
        let person = try await w.sourceUser("mia", password: "Old-Passw0rd!")
        try await w.cognito.adminUpdateUserAttributes(
            poolID: w.old, username: "mia",
            attributes: [AttributeType("phone_number", "+15555550101"), AttributeType("phone_number_verified", "true")])
        try await w.cognito.adminSetSMSMFAPreference(poolID: w.old, username: "mia")
        try await w.api.test { client in
            let refused = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "mia", password: "Old-Passw0rd!"))
            #expect(refused.status == 400 && refused.code == "not_authorized", "\(refused)")
        }
        let failed = try w.api.db.rows(
            "SELECT details->>'reason' AS reason, details->>'challenge' AS challenge, user_id::text AS person FROM events WHERE kind = 'migration_failed'"
        )
        #expect(failed.count == 1)
        #expect(try failed.first?.decode("reason", as: String.self) == "mfa_refused")
        #expect(try failed.first?.decode("challenge", as: String.self) == "SMS_MFA")
        #expect(try failed.first?.decode("person", as: String.self) == person)
        #expect(try w.api.db.count("pending_links") == 0)
        #expect(try w.api.db.count("events", where: "kind = 'migration_succeeded'") == 0)
        // Forgot password checks no password, so no challenge shows the MFA: the user's settings do.
        try await w.api.test { client in
            let refused = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "mia", password: nil))
            #expect(refused.status == 400 && refused.code == "not_authorized", "\(refused)")
        }
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed' AND details->>'reason' = 'mfa_refused'") == 2)
        #expect(try w.api.db.count("pending_links") == 0)
    }

    @Test("a pending link is used once, by exactly its username; keyed by an email it needs that email verified in the target")
    func pendingLinkUsedOnce() async throws {
        let w = try await World.make(targetClient: .writesEverything)
        let person = try await w.sourceUser("nora@example.com", password: "Old-Passw0rd!")
        try await w.api.test { client in
            // Nora migrates by typing her email (the target signs in by email: its username is a UUID).
            let migrated = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "nora@example.com", password: "Old-Passw0rd!"))
            #expect(migrated.status == 200, "\(migrated)")
            #expect(try w.api.db.count("pending_links") == 1)
            // Someone signs up with her address, unverified, before she signs in: not hers to take.
            let squatter = testSub("squatter")
            let early = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(
                    w, username: "2f1e0d9c-squatter", attributes: ["sub": squatter, "email": "nora@example.com", "email_verified": "false"])
            )
            #expect(early.status == 200, "\(early)")
            #expect(try await Self.owner(w, sub: squatter, client: client) != person)
            #expect(try w.api.db.count("pending_links") == 1, "the pending link is still Nora's")
            // Nora's own first sign-in: the email Cognito created her with is verified.
            let nora = testSub("nora-new")
            let signedIn = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(
                    w, username: "7a6b5c4d-nora", attributes: ["sub": nora, "email": "nora@example.com", "email_verified": "true"]))
            #expect(signedIn.status == 200, "\(signedIn)")
            #expect(try await Self.owner(w, sub: nora, client: client) == person)
            #expect(try w.api.db.count("pending_links") == 0, "used once")
        }
    }

    @Test("a forgot-password migration anyone can start leaves a pending link only the exact username can use: 'Victim' is not 'victim'")
    func pendingLinkNeedsTheExactUsername() async throws {
        let w = try await World.make(targetClient: .writesEverything)
        let victim = try await w.sourceUser("victim", password: "Old-Passw0rd!", email: "victim@example.com")
        try await w.api.test { client in
            // The attacker asks for a password reset of "victim": Cognito sends the code to the
            // victim, but StableID has left a pending link for the username.
            let started = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "victim", password: nil))
            #expect(started.status == 200, "\(started)")
            #expect(try w.api.db.count("pending_links") == 1)
            // In a case-sensitive pool (Cognito's API default) they sign up as "Victim", confirm their
            // own address, and sign in; post-confirmation was never seen.
            let sub = testSub("Victim")
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(
                    w, username: "Victim", attributes: ["sub": sub, "email": "mallory@example.net", "email_verified": "true"]))
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: sub, client: client) != victim)
            #expect(try w.api.db.count("pending_links") == 1, "still the victim's, for when they reset their password")
        }
    }

    @Test("a federated user's email_verified is its provider's word: it links nobody by email, and never uses a pending link by email")
    func federatedEmailVerifiedIsNoProof() async throws {
        let w = try await World.make(linkBy: [.username, .email, .verifiedEmail], targetClient: .writesEverything)
        let victim = try await w.sourceUser("olga", password: "Old-Passw0rd!", email: "olga@example.com")
        let identities =
            #"[{"userId":"mallory-oidc-1","providerName":"CorpOIDC","providerType":"OIDC","issuer":null,"primary":true,"dateCreated":1700000000000}]"#
        let sub = testSub("oidc-olga")
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(
                    w, username: "CorpOIDC_mallory-oidc-1",
                    attributes: ["sub": sub, "email": "olga@example.com", "email_verified": "true", "identities": identities]))
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: sub, client: client) != victim)
        }
    }

    @Test("serve rereads the target's facts: a client added later that can write the attribute stops it linking on its own")
    func factsFollowThePool() async throws {
        let w = try await World.make(targetClient: .writes(["email"]))
        let person = try await w.sourceUser("quinn", password: "Old-Passw0rd!")
        let first = try await w.createInNew("quinn.a", attributes: ["custom:stable_id": person])
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(w, username: "quinn.a", attributes: ["sub": first, "custom:stable_id": person]))
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: first, client: client) == person, "read-only attribute: links")
        }
        // Someone adds an app client with WriteAttributes unset: users can now write the attribute.
        _ = try await w.cognito.createUserPoolClient(poolID: w.new, name: "new-app")
        let refresh = TargetFactsRefresh(database: w.api.db.database, clients: PoolClients(), logger: Logger(label: "test"))
        #expect(try await refresh.run(attribution: Attribution(actor: .system)) == 1)
        // What the campaign now says of its target, over HTTP.
        try await w.api.test { client in
            let shown = try await client.call(.get, "/v1/campaigns/\(w.campaign.id.uuidString.lowercased())", token: w.api.tokens[.admin])
            let facts = try #require(shown.json["target_facts"] as? [String: Any], "\(shown)")
            #expect(facts["self_sign_up"] as? Bool == true && facts["sign_in_by_email"] as? Bool == false, "\(facts)")
            #expect((facts["attribute_writers"] as? [String])?.count == 1, "\(facts)")
            #expect(shown.json["mfa_users"] as? String == "reset")
        }
        #expect(try await refresh.run(attribution: Attribution(actor: .system)) == 0, "the same facts again are no change")
        #expect(try w.api.db.count("events", where: "kind = 'campaign_target_facts_changed'") == 1)
        let second = try await w.createInNew("quinn.b", attributes: ["custom:stable_id": person])
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(w, username: "quinn.b", attributes: ["sub": second, "custom:stable_id": person]))
            #expect(reply.status == 200, "\(reply)")
            #expect(try await Self.owner(w, sub: second, client: client) != person, "writable now: a claim, not proof")
        }
    }
}

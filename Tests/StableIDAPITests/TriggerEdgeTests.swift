import Cognito
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import TestSupport
import Testing
import UserMigration

/// Two trigger paths end to end against moto that the flows in TriggerFlowTests do not reach: a
/// piece of evidence that names two people (ambiguous: it links nobody), and a target username
/// that Cognito gave a new sub after its user was deleted (the old identity is retired in the same
/// transaction as the new link, by `IdentitySetWrites.retireReusedUsername`).
@Suite("Trigger edge paths: ambiguous evidence, reused usernames", .timeLimit(.minutes(5)))
struct TriggerEdgeTests {
    typealias World = TriggerFlowTests.World

    static func signIn(_ w: World, _ username: String, _ attributes: [String: String]) throws -> String {
        try TriggerFlowTests.postAuthEvent(pool: w.new, username: username, attributes: attributes)
    }

    @Test("a verified email two people share: the sign-in links neither (a new person), and its token names neither")
    func ambiguousVerifiedEmail() async throws {
        let w = try await World.make(linkBy: [.username, .verifiedEmail])
        let first = try await w.sourceUser("pat", password: "Old-Passw0rd!", email: "pat@example.com")
        let second = try await w.sourceUser("patricia", password: "Old-Passw0rd!", email: "Pat@Example.com")
        let attributes = ["email": "pat@example.com", "email_verified": "true"]
        let sub = try await w.createInNew("pat.new", attributes: attributes)
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.signIn(w, "pat.new", attributes.merging(["sub": sub]) { $1 }))
            #expect(reply.status == 200, "\(reply)")
            let owner = try #require(try await TakeoverTests.owner(w, sub: sub, client: client), "the sign-in linked the sub to nobody")
            #expect(owner != first && owner != second, "an email two people share linked the sub to one of them")
            let token = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try TriggerFlowTests.tokenEvent(
                    pool: w.new, username: "pat.new", attributes: attributes.merging(["sub": sub]) { $1 }, version: "2"))
            #expect(token.status == 200 && token.text.contains(owner), "\(token)")
            #expect(!token.text.contains(first) && !token.text.contains(second), "\(token)")
        }
        // A person of its own, not moved by the campaign; the two people keep exactly their identities.
        #expect(try w.api.db.count("identities", where: "sub = '\(sub)' AND via = 'manual' AND campaign_id IS NULL") == 1)
        #expect(try w.api.db.count("identities", where: "user_id IN ('\(first)', '\(second)')") == 2)
    }

    @Test("a target username deleted and created again: the new sub links and the old identity is retired with its event")
    func reusedUsername() async throws {
        // No self sign-up in the target: its usernames are an administrator's, so quinn's links by username.
        let w = try await World.make(targetAdminOnly: true)
        let quinn = try await w.sourceUser("quinn", password: "Old-Passw0rd!")
        let quinnFirst = try await w.createInNew("quinn", attributes: [:])
        // walt has no source account: each of his subs becomes a new person.
        let waltFirst = try await w.createInNew("walt", attributes: [:])
        let (quinnSecond, waltSecond) = try await w.api.test { client -> (String, String) in
            for (username, sub) in [("quinn", quinnFirst), ("walt", waltFirst)] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger, json: try Self.signIn(w, username, ["sub": sub]))
                #expect(reply.status == 200, "\(reply)")
            }
            #expect(try await TakeoverTests.owner(w, sub: quinnFirst, client: client) == quinn)
            let waltPerson = try #require(try await TakeoverTests.owner(w, sub: waltFirst, client: client))

            // Both users are deleted in the target and created again under their usernames: new subs.
            for username in ["quinn", "walt"] { try await w.cognito.adminDeleteUser(poolID: w.new, username: username) }
            let quinnSecond = try await w.createInNew("quinn", attributes: [:])
            let waltSecond = try await w.createInNew("walt", attributes: [:])
            for (username, sub) in [("quinn", quinnSecond), ("walt", waltSecond)] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger, json: try Self.signIn(w, username, ["sub": sub]))
                #expect(reply.status == 200, "the sign-in of a reused username failed: \(reply)")
            }
            #expect(try await TakeoverTests.owner(w, sub: quinnSecond, client: client) == quinn, "quinn's new sub links to quinn")
            let waltAgain = try #require(try await TakeoverTests.owner(w, sub: waltSecond, client: client))
            #expect(waltAgain != waltPerson, "nothing says the new walt is the old one")
            return (quinnSecond, waltSecond)
        }
        for sub in [quinnFirst, waltFirst] {
            #expect(try w.api.db.count("identities", where: "sub = '\(sub)' AND status = 'deleted'") == 1, "\(sub) was not retired")
            #expect(
                try w.api.db.count(
                    "events",
                    where: """
                        kind = 'identity_status_changed' AND sub = '\(sub)' AND details->>'to' = 'deleted'
                        AND details->>'reason' = 'username reused by a new sub in the pool'
                        """) == 1)
        }
        for sub in [quinnSecond, waltSecond] {
            #expect(try w.api.db.count("identities", where: "sub = '\(sub)' AND status = 'active'") == 1)
        }
    }
}

import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

extension FinalizeTests.Scenario {
    var phase: String {
        get throws { try db.rows("SELECT phase FROM campaigns WHERE name = \(campaign)")[0].decode("phase") }
    }

    /// A person's stable ID as the CLI prints it.
    func id(_ username: String) -> String { people[username]!.uuidString.lowercased() }

    /// The `finalize_users` row a run killed between writing it and finishing it leaves behind.
    func plantInterrupted(_ username: String, mode: String) throws {
        let campaign = try campaignID
        try db.connect().execute(
            """
            INSERT INTO finalize_users (campaign_id, user_id, source_pool, source_sub, mode, state, target_username, attempts)
            VALUES (\(campaign)::uuid, \(people[username]!), \(source), \(subs[username]!), \(mode), 'creating', \(username), 1)
            """
        )
    }

    /// A user of the target pool finalize did not make (no stable-ID attribute).
    func plantStranger(_ username: String) async throws {
        _ = try await client.createTestUser(
            poolID: target, username: username,
            attributes: [AttributeType("email", "stranger@example.com"), AttributeType("email_verified", "true")])
    }
}

extension FinalizeTests {
    static let permanentPassword = "Permanent-1x"

    @Test(
        "invite: --limit, then the rest, each by a verified email or else SMS; the phase moves; --resend reaches only old, unused invitations of the same user"
    )
    func inviteWithLimitAndResend() async throws {
        let s = try await Self.plant()
        #expect(try s.phase == "lazy")
        let (first, firstReport) = try s.finalize(["--mode", "invite", "--limit", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(firstReport["created"] as? Int == 2 && firstReport["limit_reached"] as? Bool == true, "\(first.stdout)")
        #expect(try s.phase == "finalizing")
        let (rest, restReport) = try s.finalize(["--mode", "invite"])
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(restReport["created"] as? Int == Scenario.movable.count - 2, "\(rest.stdout)")
        #expect((restReport["skipped"] as? [String: Int])?["no_contact"] == 1, "nina: no email, no phone")
        var deliveries: [String: Int] = [:]
        for report in [firstReport, restReport] {
            for (medium, count) in (report["deliveries"] as? [String: Int]) ?? [:] { deliveries[medium, default: 0] += count }
        }
        #expect(deliveries == ["EMAIL": Scenario.emailUsers.count, "SMS": 2], "phil, and vera whose email nobody verified, by SMS")
        let users = try await s.targetUsers()
        #expect(Set(users.keys) == Scenario.movable.union(["dan-again"]), "\(users.keys.sorted())")
        #expect(users["vera"]?.attribute("email_verified") == "false" && users["vera"]?.attribute("phone_number_verified") == "true")
        let identities = try s.targetIdentities()
        for username in Scenario.movable {
            let sub = try #require(users[username]?.attribute("sub"))
            #expect(identities[sub]?.person == s.people[username] && identities[sub]?.via == "invite", "\(username)")
        }
        #expect(
            try s.db.count("finalize_users", where: "state = 'created' AND mode = 'invite' AND invited_at IS NOT NULL")
                == Scenario.movable.count)

        // The invitations went out 4 days ago, but u0's; the target's temporary passwords last 3 days.
        try s.db.connect().execute("UPDATE finalize_users SET invited_at = now() - interval '4 days' WHERE user_id <> \(s.people["u0"]!)")
        // Since: u1 signed in, u2's username passed to someone else, u3 was forgotten.
        try await s.client.adminSetUserPassword(poolID: s.target, username: "u1", password: Self.permanentPassword, permanent: true)
        try await s.client.adminDeleteUser(poolID: s.target, username: "u2")
        try await s.plantStranger("u2")
        let forget = try CLI.run(["user", "forget", s.id("u3")], environment: s.env)
        #expect(forget.status == 0, "\(forget.stderr)")
        #expect(forget.stdout.contains("campaign finalize created an account") && forget.stdout.contains(s.target), "\(forget.stdout)")
        #expect(try s.db.count("finalize_users", where: "target_username IS NULL") == 1)
        #expect(
            try s.db.count(
                "events", where: "kind = 'personal_data_erased' AND details->'finalize_rows'->0->>'target_pool' = '\(s.target)'") == 1)

        let due = Set(["u4", "u5", "phil", "vera"].map(s.id))
        let (dry, dryReport) = try s.finalize(["--mode", "invite", "--resend", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(Set((dryReport["would_list"] as? [String]) ?? []) == due, "\(dry.stdout)")
        #expect(dryReport["resend_older_than_seconds"] as? Int == 3 * 86_400, "the target's TemporaryPasswordValidityDays")
        let skipped = dryReport["skipped"] as? [String: Int]
        #expect(skipped?["signed_in"] == 1 && skipped?["target_changed"] == 1, "u1 signed in; u2 is a stranger now")
        #expect(!dry.stdout.contains("@example"), "people are named by user id only")
        let (all, allReport) = try s.finalize(["--mode", "invite", "--resend", "--dry-run", "--older-than", "0s"])
        #expect(all.status == 0 && Set((allReport["would_list"] as? [String]) ?? []) == due.union([s.id("u0")]), "\(all.stdout)")

        let (resent, resentReport) = try s.finalize(["--mode", "invite", "--resend", "--limit", "1"])
        #expect(resent.status == 0 && resentReport["resent"] as? Int == 1, "\(resent.stdout) \(resent.stderr)")
        #expect(try s.db.count("finalize_users", where: "resent_at IS NOT NULL") == 1)
        let (after, afterReport) = try s.finalize(["--mode", "invite", "--resend", "--dry-run"])
        #expect(after.status == 0 && (afterReport["would_list"] as? [String])?.count == due.count - 1, "a new invitation is not old")
    }

    @Test(
        "invite after an interruption: the user a killed run made is adopted even once signed in, one never made is created once, someone else's username is held"
    )
    func inviteResumes() async throws {
        let s = try await Self.plant()
        let u0 = try #require(s.people["u0"]), u1 = try #require(s.people["u1"]), u2 = try #require(s.people["u2"])
        // Killed after AdminCreateUser for u0, who signed in before --resume (CONFIRMED, not FORCE_CHANGE_PASSWORD).
        _ = try await s.client.createTestUser(
            poolID: s.target, username: "u0",
            attributes: [
                AttributeType("email", "u0@example.com"), AttributeType("email_verified", "true"),
                AttributeType("custom:stable_id", u0.uuidString.lowercased()),
            ])
        try await s.client.adminSetUserPassword(poolID: s.target, username: "u0", password: Self.permanentPassword, permanent: true)
        // Killed before AdminCreateUser for u1 and u5; u5 was then forgotten.
        for username in ["u0", "u1", "u5"] { try s.plantInterrupted(username, mode: "invite") }
        let forget = try CLI.run(["user", "forget", s.id("u5")], environment: s.env)
        #expect(forget.status == 0 && forget.stdout.contains("may have created an account"), "\(forget.stdout) \(forget.stderr)")
        #expect(try s.db.count("finalize_users", where: "state = 'held' AND last_error = 'erased' AND target_username IS NULL") == 1)
        // Someone else holds u2's username in the target.
        try await s.plantStranger("u2")

        let (refused, _) = try s.finalize(["--mode", "invite"])
        #expect(refused.status == 2 && refused.stderr.contains("--resume"), "\(refused.stderr)")
        let (resumed, report) = try s.finalize(["--mode", "invite", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        // u0 adopted; u2 and dan held; u5 forgotten (no longer to move); the others created.
        #expect(report["adopted"] as? Int == 1 && report["created"] as? Int == Scenario.movable.count - 3, "\(resumed.stdout)")
        #expect(report["held_count"] as? Int == 2, "u2 and dan: \(resumed.stdout)")
        let held = (report["held"] as? [[String: Any]]) ?? []
        let u2Hold = held.first { $0["user_id"] as? String == s.id("u2") }
        #expect((u2Hold?["reasons"] as? [String]) == ["username_taken"], "\(held)")
        #expect(try s.db.count("finalize_users", where: "user_id = '\(u2)' AND state = 'held' AND last_error = 'username_taken'") == 1)

        let users = try await s.targetUsers()
        #expect(users["u2"]?.attribute("custom:stable_id") == nil && users["u2"]?.attribute("email") == "stranger@example.com")
        #expect(users["u5"] == nil, "forgotten before it was created")
        let identities = try s.targetIdentities()
        let u0Sub = try #require(users["u0"]?.attribute("sub"))
        #expect(identities[u0Sub]?.person == u0 && identities[u0Sub]?.via == "invite")
        // u1: its row tried twice (the killed attempt, then this one), one user, one link.
        #expect(try s.db.count("finalize_users", where: "user_id = '\(u1)' AND state = 'created' AND attempts = 2") == 1)
        #expect(try s.db.count("identities", where: "pool_id = '\(s.target)' AND user_id = '\(u1)' AND status = 'active'") == 1)

        let (again, againReport) = try s.finalize(["--mode", "invite"])
        #expect(again.status == 0 && againReport["created"] as? Int == 0 && againReport["adopted"] as? Int == 0, "\(again.stdout)")
        #expect(try await s.targetUsers().count == users.count)
    }

    @Test(
        "passwordless: a target that does not say it lets users in without a password is refused unless the operator vouches; users need a fitting verified contact"
    )
    func passwordlessPoolPolicy() async throws {
        let silent = try await Self.plant(factors: nil)
        let (refused, _) = try silent.finalize(["--mode", "passwordless", "--dry-run"])
        #expect(refused.status == 2 && refused.stderr.contains("--assume-passwordless-pool"), "\(refused.stderr)")
        let (early, _) = try silent.finalize(["--mode", "passwordless"])
        #expect(early.status == 2)
        #expect(try silent.phase == "lazy")
        #expect(try silent.db.count("finalize_users") == 0)
        let (assumed, assumedReport) = try silent.finalize(["--mode", "passwordless", "--assume-passwordless-pool"])
        #expect(assumed.status == 0, "\(assumed.stderr)")
        #expect(assumedReport["created"] as? Int == Scenario.movable.count, "\(assumed.stdout)")
        #expect((assumedReport["warnings"] as? [String])?.contains { $0.contains("--assume-passwordless-pool") } == true)

        // A pool that allows email codes only: who has just a verified phone cannot get in.
        let emailCodes = try await Self.plant(factors: ["PASSWORD", "EMAIL_OTP"])
        let (dry, dryReport) = try emailCodes.finalize(["--mode", "passwordless", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect((dryReport["skipped"] as? [String: Int])?["no_passwordless_factor"] == 2, "phil and vera: \(dry.stdout)")
        #expect(dryReport["would_create"] as? Int == Scenario.emailUsers.count)
    }

    @Test("one finalize per campaign at a time: a second run is refused while another holds the campaign; a dry run is not")
    func oneRunAtATime() async throws {
        let s = try await Self.plant()
        let name = CampaignFinalizer.lockName(try #require(UUID(uuidString: try s.campaignID)))
        let holder = try s.db.connect()
        try holder.execute("SELECT pg_advisory_lock(hashtext(\(name)))")
        let (busy, _) = try s.finalize(["--mode", "invite"])
        #expect(busy.status == 2 && busy.stderr.contains("another finalize"), "\(busy.stderr)")
        #expect(try s.db.count("finalize_users") == 0)
        #expect(try s.phase == "lazy")
        let (dry, _) = try s.finalize(["--mode", "invite", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        try holder.execute("SELECT pg_advisory_unlock(hashtext(\(name)))")
        let (free, report) = try s.finalize(["--mode", "invite", "--limit", "1"])
        #expect(free.status == 0 && report["created"] as? Int == 1, "\(free.stdout) \(free.stderr)")
    }
}

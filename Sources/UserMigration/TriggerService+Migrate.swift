import Cognito
import CognitoIngest
import Foundation
public import IdentityMap
import Logging
import Metrics
import Postgres

// The Migrate-user trigger: a user unknown to the target pool signs in (or asks for a password
// reset); the source pools of the target's campaign say whether they know the user and, at
// sign-in, whether the password is right.
extension TriggerService {
    func migrate(
        _ event: CognitoTriggerEvent, _ request: UserMigrationRequest, target: Pool, checkPassword: Bool, attribution: Attribution
    ) async throws -> Data {
        let via: LinkPath = checkPassword ? .lazy : .forgotPassword
        let campaign = try await database.primary.withConnection { connection in
            try CampaignStore.active(target: target.id, on: connection)
        }
        guard let campaign else { throw MigrationError.noCampaign(pool: target.id.rawValue) }
        let deadline = ContinuousClock.now + Self.cognitoBudget
        var found: SourceUser?
        // A source user outside the campaign's subset is, for this campaign, no user at all: the
        // other sources are asked, and if none has a member, the answer is an unknown user's.
        var outsideSubset = false
        for source in campaign.sources {
            guard let pool = try await PoolStore(database: database).pool(source.pool) else { continue }
            let lookup = try await look(
                up: request, in: pool, source: source, campaign: campaign, checkPassword: checkPassword, deadline: deadline)
            switch lookup {
            case .unknown:
                continue
            case .refused(let reason, let user, let challenge):
                if let user {
                    let member = try await isMember(user, pool: pool.id, campaign: campaign)
                    if !member {
                        outsideSubset = true
                        continue
                    }
                }
                try await recordFailure(
                    campaign: campaign, target: target, via: via, reason: reason, source: pool, user: user, challenge: challenge,
                    attribution)
                throw MigrationError.notAuthorized
            case .found(let user):
                guard try await isMember(user.user, pool: pool.id, campaign: campaign) else {
                    outsideSubset = true
                    continue
                }
                found = user
            }
            break
        }
        guard let found else {
            // Unknown to every source (or outside the subset): answered as a wrong password is,
            // and counted, not stored.
            if outsideSubset {
                await countRefusal(.outsideSubset, campaign: campaign, target: target, attribution: attribution)
            } else {
                await countUnknown(campaign: campaign, target: target, attribution: attribution)
            }
            throw MigrationError.notAuthorized
        }
        // A person finalize has invited (or is inviting), or who is in the target already, has an
        // account there: a migration now would make Cognito create a second one. Answered as for
        // an unknown user (they sign in with the account they have), and counted.
        if try await alreadyInTarget(found, campaign: campaign) {
            await countRefusal(.alreadyInTarget, campaign: campaign, target: target, attribution: attribution)
            throw MigrationError.notAuthorized
        }
        let stableID = try await rememberMigration(
            found.user, signedInAs: request.userName, source: found.pool, campaign: campaign, target: target, via: via,
            challenge: found.challenge, mfa: found.unverifiedFactor ? campaign.mfaUsers : nil, attribution: attribution
        )
        var attributes = Self.migratedAttributes(found.user.UserAttributes ?? [])
        if let attribute = campaign.stableIDAttribute { attributes[attribute] = stableID.uuidString.lowercased() }
        logger.info("user migrated", metadata: ["campaign": "\(campaign.id)", "target": "\(target.id)", "via": "\(via.rawValue)"])
        // A source user still on a temporary password (NEW_PASSWORD_REQUIRED) must not have it
        // become permanent in the target, and one whose second factor could not be checked (MFA)
        // must not arrive CONFIRMED on the password alone: both set a new password in the target
        // after proving their email or phone with a code.
        let finalStatus: MigrationFinalStatus? =
            found.challenge == "NEW_PASSWORD_REQUIRED" || found.unverifiedFactor ? .resetRequired : nil
        return try event.answeringMigration(attributes: attributes, finalStatus: finalStatus)
    }

    /// A source user found by the Migrate-user trigger.
    struct SourceUser {
        var pool: Pool
        var user: AdminGetUserResponse
        /// The challenge the password check answered, if any.
        var challenge: String?
        /// The password was right, but the source asks for a factor StableID cannot check (MFA).
        var unverifiedFactor: Bool
    }

    enum SourceLookup {
        case unknown
        case refused(MigrationFailedDetails.Reason, AdminGetUserResponse?, challenge: String?)
        case found(SourceUser)
    }

    /// One source pool's answer for the user. Every path makes the same Cognito calls, the
    /// password check then `AdminGetUser`, so that an unknown user and a wrong password cannot be
    /// told apart by what StableID asks of Cognito, nor by how long it takes.
    func look(
        up request: UserMigrationRequest, in pool: Pool, source: Campaign.Source, campaign: Campaign, checkPassword: Bool,
        deadline: ContinuousClock.Instant
    ) async throws -> SourceLookup {
        let client = try clients.client(for: pool)
        enum PasswordCheck { case checked, unverifiedFactor, wrong, unknownUser }
        var check = PasswordCheck.checked
        var challenge: String?
        if checkPassword {
            guard let clientID = source.clientID else { throw MigrationError.noSourceClient(campaign: campaign.id) }
            guard let password = request.password?.plaintext, !password.isEmpty else {
                throw MigrationError.malformedEvent("request.password is missing")
            }
            let secret = try await database.primary.withConnection { connection in
                try CampaignStore.clientSecret(campaign: campaign.id, source: source.pool, on: connection)
            }
            do {
                let answer = try await client.adminInitiateAuth(
                    poolID: pool.id.rawValue, clientID: clientID, username: request.userName, password: password,
                    secretHash: secret.map { CognitoSecretHash.compute(clientSecret: $0, username: request.userName, clientID: clientID) },
                    deadline: deadline
                )
                challenge = answer.ChallengeName
                // Only tokens, or the demand for a new password, say the password was all that was
                // needed. Any other challenge (SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP,
                // SELECT_MFA_TYPE, MFA_SETUP, …) means a second factor this trigger cannot check.
                let passwordSufficed = answer.AuthenticationResult != nil || challenge == "NEW_PASSWORD_REQUIRED"
                check = passwordSufficed ? .checked : .unverifiedFactor
            } catch let error as CognitoError where error.type == .userNotFound {
                check = .unknownUser
            } catch let error as CognitoError where error.type == .resourceNotFound || error.type == .invalidParameter {
                // The app client is not one of this pool's (or does not allow the flow).
                logger.error(
                    "source app client refused", metadata: ["pool": "\(pool.id)", "error": "\(error.type.map { "\($0)" } ?? "")"])
                throw MigrationError.noSourceClient(campaign: campaign.id)
            } catch let error as CognitoError
                where error.type.map({ [.notAuthorized, .userNotConfirmed, .passwordResetRequired].contains($0) }) == true
            {
                check = .wrong
            }
        }
        let user: AdminGetUserResponse?
        do {
            user = try await client.adminGetUser(poolID: pool.id.rawValue, username: request.userName, deadline: deadline)
        } catch let error as CognitoError where error.type == .userNotFound {
            user = nil
        }
        guard let user, check != .unknownUser else { return .unknown }
        // Cognito says NotAuthorized for a disabled user too; the audit trail tells them apart.
        if user.Enabled == false { return .refused(.disabled, user, challenge: nil) }
        // Forgot password checks no password, so no challenge can say the user has MFA: their own
        // settings do. (Such a user arrives RESET_REQUIRED either way.)
        if !checkPassword, user.hasMFA { check = .unverifiedFactor }
        switch check {
        case .wrong, .unknownUser: return .refused(.notAuthorized, user, challenge: nil)
        case .unverifiedFactor where campaign.mfaUsers == .refuse: return .refused(.mfaRefused, user, challenge: challenge)
        case .unverifiedFactor, .checked:
            return .found(SourceUser(pool: pool, user: user, challenge: challenge, unverifiedFactor: check == .unverifiedFactor))
        }
    }

    /// The source user's attributes the target pool may take: never `sub` (Cognito mints a new
    /// one), nor `identities` or `cognito:*` (Cognito's own), nor custom attributes (the target
    /// may not define them; the stable-ID attribute is added by the caller).
    static func migratedAttributes(_ attributes: [AttributeType]) -> [String: String] {
        var result: [String: String] = [:]
        for attribute in attributes {
            let name = attribute.Name
            guard let value = attribute.Value, name != "sub", name != "identities", !name.hasPrefix("cognito:"),
                !name.hasPrefix("custom:")
            else { continue }
            result[name] = value
        }
        return result
    }

    /// The source identity's person (created now if the map did not know the source user), and
    /// a pending link for the post-authentication trigger that will bring the new sub.
    func rememberMigration(
        _ user: AdminGetUserResponse, signedInAs login: String, source: Pool, campaign: Campaign, target: Pool, via: LinkPath,
        challenge: String?, mfa: Campaign.MFAUsers?, attribution: Attribution
    ) async throws -> UUID {
        guard let sub = user.attribute("sub").flatMap(CognitoSub.canonical) else {
            throw MigrationError.malformedEvent("the source pool answered a user without a sub")
        }
        let store = IdentityMapStore(database: database)
        return try await database.primary.transaction { connection in
            // Cognito retries and may send duplicates at once: one lock per source sub, then look again.
            try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(\(source.id.rawValue + "/" + sub), 0))")
            var stableID = try ResolveQueries.resolve(.pool(source.id, sub: sub), on: connection)?.userID
            if stableID == nil {
                let email = user.attribute("email").flatMap(EmailAddress.valid)
                let identity = try NewIdentity(
                    pool: source.id, sub: sub, username: user.Username, email: email,
                    emailVerified: user.attribute("email_verified") == "true", via: via, campaignID: campaign.id
                )
                try IdentitySetWrites.retireReusedUsername(identity, attribution: attribution, on: connection)
                stableID = try store.createUser(identities: [identity], attribution: attribution).run(inTransactionOn: connection).id
            }
            guard let stableID, let person = try Person.find(stableID, on: connection) else {
                throw MigrationError.malformedEvent("the source user's person vanished")
            }
            try connection.execute(
                """
                INSERT INTO pending_links (target_pool, username, user_id, campaign_id, via)
                VALUES (\(target.id.rawValue), \(login), \(person.userID), \(campaign.id), \(via.rawValue))
                ON CONFLICT (target_pool, username) DO UPDATE
                    SET user_id = EXCLUDED.user_id, campaign_id = EXCLUDED.campaign_id, via = EXCLUDED.via, created_at = now()
                """
            )
            try EventLog.append(
                EventDraft(
                    MigrationSucceededDetails(campaign: campaign.id, targetPool: target.id, via: via, challenge: challenge, mfa: mfa),
                    userID: person.userID, pool: source.id, sub: sub,
                    personal: EventPersonalData(username: user.Username)
                ),
                attribution: attribution,
                on: connection
            )
            return person.userID
        }
    }

    /// A refused sign-in of a user a source pool has is an event of that user's person (who
    /// tried, not with what); the username is personal data.
    func recordFailure(
        campaign: Campaign, target: Pool, via: LinkPath, reason: MigrationFailedDetails.Reason, source: Pool, user: AdminGetUserResponse?,
        challenge: String?, _ attribution: Attribution
    ) async throws {
        let sub = user?.attribute("sub").flatMap(CognitoSub.canonical)
        try await database.primary.transaction { connection in
            let person = try sub.flatMap { try ResolveQueries.resolve(.pool(source.id, sub: $0), on: connection)?.userID }
            let draft = EventDraft(
                MigrationFailedDetails(campaign: campaign.id, targetPool: target.id, via: via, reason: reason, challenge: challenge),
                userID: person, pool: source.id, sub: sub,
                personal: user.map { EventPersonalData(username: $0.Username) } ?? EventPersonalData()
            )
            _ = try EventLog.append(draft, attribution: attribution, on: connection)
        }
        refusals.counter(reason.rawValue).increment()
        logger.info("migration refused", metadata: ["campaign": "\(campaign.id)", "reason": "\(reason.rawValue)"])
    }

    /// Whether the source user is in the campaign's subset (``CampaignSubset``), judged now: from
    /// its attributes as AdminGetUser answered them, and the campaign's member file. Every user is
    /// a member of a campaign without a subset.
    func isMember(_ user: AdminGetUserResponse, pool: PoolID, campaign: Campaign) async throws -> Bool {
        guard let subset = campaign.subset else { return true }
        guard subset.matches({ user.attribute($0) }) else { return false }
        guard subset.hasMemberFile else { return true }
        let sub = user.attribute("sub").flatMap(CognitoSub.canonical) ?? ""
        let username = user.Username
        return try await database.primary.withConnection { connection in
            try CampaignSubsetStore.isListed(campaign, pool: pool, sub: sub, username: username, on: connection)
        }
    }

    /// Whether the source user's person is in the target already, or being created there by
    /// finalize (``FinalizeStore/alreadyInTarget(source:sub:campaign:on:)``).
    func alreadyInTarget(_ found: SourceUser, campaign: Campaign) async throws -> Bool {
        guard let sub = found.user.attribute("sub").flatMap(CognitoSub.canonical) else { return false }
        let source = found.pool.id
        return try await database.primary.withConnection { connection in
            try FinalizeStore.alreadyInTarget(source: source, sub: sub, campaign: campaign, on: connection)
        }
    }

    /// A username no source pool knows: counted (metric, and one aggregated event per campaign
    /// and minute), never stored.
    func countUnknown(campaign: Campaign, target: Pool, attribution: Attribution) async {
        await countRefusal(.userNotFound, campaign: campaign, target: target, attribution: attribution)
    }

    /// A refusal counted, not stored per attempt: the metric, and one aggregated event per
    /// campaign and minute.
    func countRefusal(_ refusal: MigrationFailedDetails.Reason, campaign: Campaign, target: Pool, attribution: Attribution) async {
        let reason = refusal.rawValue
        refusals.counter(reason).increment()
        // A failed write must not change the answer (a wrong password's would not fail here) nor
        // lose the counts: they go back, for the next write.
        if let batch = refusals.tally.add(campaign: campaign.id, target: target.id, reason: reason) {
            do {
                try await writeRefusalCounts([batch], attribution: attribution)
            } catch {
                refusals.tally.restore([batch])
                logger.warning(
                    "writing counted migration refusals failed; kept for the next write", metadata: ["error": "\(type(of: error))"])
            }
        }
    }

    /// Writes counted refusals, one event per batch.
    public func writeRefusalCounts(_ batches: [MigrationRefusalTally.Batch], attribution: Attribution) async throws {
        guard !batches.isEmpty else { return }
        try await database.primary.transaction { connection in
            for batch in batches {
                _ = try EventLog.append(
                    EventDraft(
                        MigrationRefusalsCountedDetails(
                            campaign: batch.campaign, targetPool: batch.target, counts: batch.counts, since: batch.since, until: batch.until
                        ),
                        pool: batch.target
                    ),
                    attribution: attribution, on: connection
                )
            }
        }
    }
}

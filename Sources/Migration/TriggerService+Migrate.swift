import Cognito
import Foundation
import IdentityMap
import Logging
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
        let pools = PoolStore(database: database)
        var found: (pool: Pool, user: AdminGetUserResponse, challenge: String?)?
        for source in campaign.sources {
            guard let pool = try await pools.pool(source.pool) else { continue }
            let client = try clients.client(for: pool)
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
                        secretHash: secret.map {
                            CognitoSecretHash.compute(clientSecret: $0, username: request.userName, clientID: clientID)
                        },
                        deadline: deadline
                    )
                    // A challenge (a new password, MFA) comes only after the password was right.
                    challenge = answer.ChallengeName
                } catch let error as CognitoError where error.type == .userNotFound {
                    continue
                } catch let error as CognitoError where error.type == .resourceNotFound || error.type == .invalidParameter {
                    // The app client is not one of this pool's (or does not allow the flow).
                    logger.error(
                        "source app client refused", metadata: ["pool": "\(pool.id)", "error": "\(error.type.map { "\($0)" } ?? "")"])
                    throw MigrationError.noSourceClient(campaign: campaign.id)
                } catch let error as CognitoError
                    where error.type.map({ [.notAuthorized, .userNotConfirmed, .passwordResetRequired].contains($0) }) == true
                {
                    // Cognito says NotAuthorized for a disabled user too; the audit trail tells them apart.
                    let disabled =
                        (try? await client.adminGetUser(poolID: pool.id.rawValue, username: request.userName, deadline: deadline))?
                        .Enabled == false
                    try await recordFailure(
                        campaign: campaign, target: target, via: via, reason: disabled ? .disabled : .notAuthorized, request, attribution
                    )
                    throw MigrationError.notAuthorized
                }
            }
            let user: AdminGetUserResponse
            do {
                user = try await client.adminGetUser(poolID: pool.id.rawValue, username: request.userName, deadline: deadline)
            } catch let error as CognitoError where error.type == .userNotFound {
                continue
            }
            guard user.Enabled != false else {
                try await recordFailure(campaign: campaign, target: target, via: via, reason: .disabled, request, attribution)
                throw MigrationError.notAuthorized
            }
            found = (pool, user, challenge)
            break
        }
        guard let found else {
            try await recordFailure(campaign: campaign, target: target, via: via, reason: .userNotFound, request, attribution)
            throw MigrationError.userNotFound
        }
        let stableID = try await rememberMigration(
            found.user, signedInAs: request.userName, source: found.pool, campaign: campaign, target: target, via: via,
            challenge: found.challenge, attribution: attribution
        )
        var attributes = Self.migratedAttributes(found.user.UserAttributes ?? [])
        if let attribute = campaign.stableIDAttribute { attributes[attribute] = stableID.uuidString.lowercased() }
        logger.info("user migrated", metadata: ["campaign": "\(campaign.id)", "target": "\(target.id)", "via": "\(via.rawValue)"])
        // A source user still on a temporary password (challenge NEW_PASSWORD_REQUIRED) must not
        // have it become permanent in the target: they set a new one there.
        let finalStatus: MigrationFinalStatus? = found.challenge == "NEW_PASSWORD_REQUIRED" ? .resetRequired : nil
        return try event.answeringMigration(attributes: attributes, finalStatus: finalStatus)
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
        challenge: String?, attribution: Attribution
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
                try Self.retireReusedUsername(identity, on: connection, attribution: attribution)
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
                    MigrationSucceededDetails(campaign: campaign.id, targetPool: target.id, via: via, challenge: challenge),
                    userID: person.userID, pool: source.id, sub: sub,
                    personal: EventPersonalData(username: user.Username)
                ),
                attribution: attribution,
                on: connection
            )
            return person.userID
        }
    }

    /// A refused sign-in is recorded (who tried, not with what); the username is personal data.
    func recordFailure(
        campaign: Campaign, target: Pool, via: LinkPath, reason: MigrationFailedDetails.Reason, _ request: UserMigrationRequest,
        _ attribution: Attribution
    ) async throws {
        let draft = EventDraft(
            MigrationFailedDetails(campaign: campaign.id, targetPool: target.id, via: via, reason: reason),
            pool: target.id, personal: EventPersonalData(username: request.userName)
        )
        try await database.primary.transaction { connection in
            _ = try EventLog.append(draft, attribution: attribution, on: connection)
        }
        logger.info("migration refused", metadata: ["campaign": "\(campaign.id)", "reason": "\(reason.rawValue)"])
    }
}

public import Cognito
public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
public import Metrics
import Postgres

/// Cognito's Lambda triggers, handled for the target pool of a campaign (DESIGN §4): the
/// Migrate-user trigger checks the password against the source pools and answers the user's
/// attributes; post-authentication and post-confirmation link the new sub to its person; pre
/// token generation adds the `stable_id` claim (linking first when the link is not there yet:
/// Cognito generates tokens before it runs post-authentication).
///
/// Every answer comes well inside Cognito's 5 s: Cognito calls run under a 4 s deadline and
/// database statements under the service's statement timeout. Passwords only ever go into the
/// signed AdminInitiateAuth request; events, logs and errors never see them.
public struct TriggerService: Sendable {
    public let database: Database
    let clients: PoolClients
    let logger: Logger
    let campaigns = CampaignCache()
    /// Registered pools found so far (they never change): no round trip per event to ask again.
    let pools = RegisteredPools()
    public let refusals: RefusalCounting
    /// Sign-ins answered from memory, waiting to be written (``writeSignIns(_:)``).
    public let signIns = SignInLog()
    /// What Cognito calls may take together; the rest of Cognito's 5 s is for us and the network.
    static let cognitoBudget: Duration = .seconds(4)

    public init(
        database: Database, clients: PoolClients, logger: Logger, metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.database = database
        self.clients = clients
        self.logger = logger
        self.refusals = RefusalCounting(metrics: metricsFactory)
    }

    /// Refused Migrate-user sign-ins: a counter per reason, and the tally that turns sign-ins of
    /// unknown usernames into aggregated events.
    public struct RefusalCounting: Sendable {
        public let tally = MigrationRefusalTally()
        let metrics: any MetricsFactory

        func counter(_ reason: String) -> Counter {
            Counter(label: "stableid_migration_refusals_total", dimensions: [("reason", reason)], factory: metrics)
        }
    }

    /// Answers one trigger event with the event's JSON, `response` filled in.
    public func handle(_ event: CognitoTriggerEvent, attribution: Attribution) async throws -> Data {
        let request = try event.typedRequest()
        if let name = request.userName, !Self.isAcceptableUserName(name) {
            throw MigrationError.malformedEvent("userName must be 1 to 512 characters without control characters")
        }
        guard let targetID = PoolID(event.userPoolID) else { throw MigrationError.unknownPool(event.userPoolID) }
        guard let target = try await pools.pool(targetID, load: { try await PoolStore(database: database).pool(targetID) }) else {
            throw MigrationError.unknownPool(targetID.rawValue)
        }
        switch request {
        case .userMigrationAuthentication(let migration):
            return try await migrate(event, migration, target: target, checkPassword: true, attribution: attribution)
        case .userMigrationForgotPassword(let migration):
            return try await migrate(event, migration, target: target, checkPassword: false, attribution: attribution)
        case .postAuthentication(let signIn):
            _ = try await link(
                TargetUser(signIn), target: target, confirmation: false, signUp: false, signedIn: true, attribution: attribution)
            return event.answeringUnchanged()
        case .postConfirmation(let signIn, let kind):
            _ = try await link(
                TargetUser(signIn), target: target, confirmation: true, signUp: kind == .signUp, signedIn: false,
                attribution: attribution
            )
            return event.answeringUnchanged()
        case .tokenGeneration(let token):
            guard let user = TargetUser(token) else { throw MigrationError.malformedEvent("request.userAttributes.sub is missing") }
            // Every token (refreshes too) asks: answer from a read when the sub is linked, and
            // enter the write path only for the first token after a sign-up or migration. (A sub
            // the lookup cache holds never gets here: ``answerLinkedTokenGeneration``.)
            let known = try await IdentityMapStore(database: database).resolve(.pool(target.id, sub: user.sub))
            var stableID = known?.userID
            if stableID == nil {
                stableID = try await link(
                    user, target: target, confirmation: false, signUp: false, signedIn: true, attribution: attribution)
            } else {
                signIns.note(pool: target.id, sub: user.sub)
            }
            guard let stableID else { return event.answeringUnchanged() }
            return try event.answeringTokenGeneration(stableID: stableID.uuidString.lowercased())
        case .clientCredentialsTokenGeneration:
            return event.answeringUnchanged()
        }
    }
}

extension TriggerService {
    /// The rule for an event's `userName`: 1 to 512 bytes of UTF-8, no control characters.
    static func isAcceptableUserName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 512 && !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
    }
}

// MARK: Linking a target sub to its person

/// The target-pool user a trigger is about, from its attributes.
struct TargetUser: Sendable {
    var sub: String
    var username: String
    var email: String?
    var emailVerified: Bool
    var attributes: [String: String]
    var federated: FederatedIdentity?

    init?(sub: String?, username: String, attributes: [String: String]) {
        guard let sub = sub.flatMap(CognitoSub.canonical) else { return nil }
        self.sub = sub
        self.username = username
        self.email = attributes["email"]
        self.emailVerified = attributes["email_verified"] == "true"
        self.attributes = attributes
        self.federated = attributes["identities"].flatMap(FederatedIdentity.parse(attribute:)).flatMap(FederatedIdentity.preferred(in:))
    }

    init(_ request: PostAuthRequest) throws {
        guard let user = TargetUser(sub: request.sub, username: request.userName, attributes: request.userAttributes) else {
            throw MigrationError.malformedEvent("request.userAttributes.sub is not a Cognito sub")
        }
        self = user
    }

    init?(_ request: TokenGenerationRequest) {
        self.init(sub: request.sub, username: request.userName, attributes: request.userAttributes)
    }

    /// Whether `email_verified` proves the user controls the mailbox. For a federated user it is
    /// the identity provider's word (mapped from its claims), which a provider whose users or
    /// tenants choose their address can assert for anyone's: only Cognito's own code or an
    /// administrator counts.
    var emailProvesControl: Bool { emailVerified && federated == nil }

    var provider: String { federated.map { CognitoUserRecord.mapProviderName($0.providerName) } ?? NewIdentity.defaultProvider }
}

extension TriggerService {
    /// Links the target sub to its person (found, or new) and returns the person's stable ID.
    /// Cognito retries a trigger and may send duplicates at once: one advisory lock per sub
    /// serializes them, and a sub already linked is answered as is.
    /// Nil when the sub was unlinked on purpose (it stays unlinked).
    /// `signedIn`: the event is a sign-in (post-authentication, a token), recorded for the linked
    /// identity in the same transaction (``IdentitySetWrites/recordSignIn(pool:sub:on:)``).
    func link(
        _ user: TargetUser, target: Pool, confirmation: Bool, signUp: Bool, signedIn: Bool, attribution: Attribution
    ) async throws -> UUID? {
        let store = IdentityMapStore(database: database)
        return try await database.primary.transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(\(target.id.rawValue + "/" + user.sub), 0))")
            // The newest campaign into this pool, even when done: its rules still find the people
            // of users who sign in for the first time after the campaign closed.
            let campaign = try campaigns.latest(for: target.id) { try CampaignStore.latest(target: target.id, on: connection) }
            let found = try Self.evidence(for: user, target: target.id, campaign: campaign, confirmation: confirmation, on: connection)
            var evidence = found.evidence
            evidence.signUp = signUp
            let trust = campaign.map { TriggerLinkRules.Trust($0.targetFacts) } ?? .unsafe
            let decision = TriggerLinkRules.decide(evidence, linkBy: campaign?.linkBy ?? [], trust: trust)
            func identity(_ via: LinkPath, campaign: UUID?) throws -> NewIdentity {
                try NewIdentity(
                    pool: target.id, sub: user.sub, username: user.username,
                    email: user.email.flatMap(EmailAddress.valid),
                    emailVerified: user.emailVerified, provider: user.provider, via: via, campaignID: campaign,
                    federatedUserID: user.federated?.userID
                )
            }
            let stableID: UUID
            switch decision {
            case .alreadyLinked(let id):
                if signedIn { try IdentitySetWrites.recordSignIn(pool: target.id, sub: user.sub, on: connection) }
                return id
            case .leaveUnlinked:
                return nil
            case .link(let person, let via):
                let new = try identity(via, campaign: campaign?.id)
                if found.usernameReused { try IdentitySetWrites.retireReusedUsername(new, attribution: attribution, on: connection) }
                stableID = try store.linkIdentity(new, to: person, attribution: attribution).run(inTransactionOn: connection)
                // A pending link is used once: exactly the row that decided, never another that
                // merely shares an email.
                // Taken with its row: two subs racing for one pending link cannot both use it.
                if let pending = evidence.pending, !signUp, pending.user == person, via == pending.via, let key = found.pendingKey {
                    let used = try connection.query(
                        "DELETE FROM pending_links WHERE target_pool = \(target.id.rawValue) AND username = \(key) RETURNING user_id")
                    guard used.count == 1 else { throw RetryableConflict("the pending link was used by another sign-in meanwhile") }
                }
            case .createUser(let via):
                // A new person was not moved by the campaign (a sign-up, or a sub nothing trusted
                // names): their identity carries no campaign, so progress never counts it as
                // migrated (sql/0016). A duplicate merged into its person later stays uncounted.
                let new = try identity(via, campaign: nil)
                if found.usernameReused { try IdentitySetWrites.retireReusedUsername(new, attribution: attribution, on: connection) }
                stableID = try store.createPerson(with: new, attribution: attribution).run(inTransactionOn: connection)
            }
            if signedIn { try IdentitySetWrites.recordSignIn(pool: target.id, sub: user.sub, on: connection) }
            return stableID
        }
    }

    /// Every piece of evidence in one round trip: each candidate identity is followed to its
    /// person (``Person/survivor(of:)``, the one rule for following merges) and
    /// kept only if that person is active.
    static func evidence(
        for user: TargetUser, target: PoolID, campaign: Campaign?, confirmation: Bool, on connection: PostgresConnection
    ) throws -> (evidence: TriggerLinkRules.Evidence, pendingKey: String?, usernameReused: Bool) {
        let sources = PostgresArray(campaign?.sources.map(\.pool.rawValue) ?? [])
        let email = user.email.flatMap(EmailAddress.normalize)
        let attributeID = campaign?.stableIDAttribute.flatMap { user.attributes[$0] }.flatMap(UUID.init(uuidString:))
        let pendingLinkLifetime = Int(Housekeeping.pendingLinkLifetime.components.seconds)
        let emailKeyUsable = user.federated == nil && (user.emailVerified || campaign?.targetFacts.signInByEmail == true)
        let rows = try connection.query(
            """
            WITH candidates (kind, user_id, via, pending_key) AS (
                SELECT CASE WHEN status = 'unlinked' THEN 'unlinked' ELSE 'linked' END, user_id, NULL, NULL FROM identities
                 WHERE pool_id = \(target.rawValue) AND sub = \(user.sub)
                UNION ALL
                SELECT 'attribute', id, NULL, NULL FROM users WHERE id = \(attributeID)
                UNION ALL
                -- Keyed by what the user typed at the Migrate-user trigger: exactly the target's
                -- username (the user Cognito created from that migration; in a case-sensitive pool
                -- 'Victim' is someone else's sign-up), or, for pools that sign in by email, its
                -- email, when that names one user: verified by Cognito, or the pool's sign-in
                -- attribute (unique there). Never a federated user's: its email is its provider's
                -- word. Kept until used or stale (housekeeping deletes those).
                SELECT CASE WHEN username = \(user.username) THEN 'pending' ELSE 'pending_email' END,
                       user_id, via, username FROM pending_links
                 WHERE target_pool = \(target.rawValue) AND created_at > now() - make_interval(secs => \(pendingLinkLifetime))
                   AND (username = \(user.username)
                        OR (\(emailKeyUsable) AND \(user.email)::text IS NOT NULL AND lower(username) = lower(\(user.email))))
                UNION ALL
                -- Provider names are per pool: only the campaign's pools and the target are asked.
                SELECT 'federated', user_id, NULL, NULL FROM identities
                 WHERE \(user.federated?.userID)::text IS NOT NULL AND provider = \(user.provider)
                   AND federated_user_id = \(user.federated?.userID) AND status <> 'unlinked'
                   AND (pool_id = ANY(\(sources)::text[]) OR pool_id = \(target.rawValue))
                UNION ALL
                SELECT 'username', user_id, NULL, NULL FROM identities
                 WHERE pool_id = ANY(\(sources)::text[]) AND lower(username) = lower(\(user.username)) AND status <> 'unlinked'
                UNION ALL
                SELECT 'email_as_username', user_id, NULL, NULL FROM identities
                 WHERE \(user.emailProvesControl) AND \(email)::text IS NOT NULL AND pool_id = ANY(\(sources)::text[]) AND lower(username) = \(email)
                   AND status <> 'unlinked'
                UNION ALL
                SELECT 'verified_email', user_id, NULL, NULL FROM identities
                 WHERE \(user.emailProvesControl) AND \(email)::text IS NOT NULL AND pool_id = ANY(\(sources)::text[])
                   AND email_normalized = \(email) AND email_verified AND status <> 'unlinked'
                UNION ALL
                -- A live identity of another sub under this username: Cognito let the name be
                -- reused (its user was deleted), so a link must retire it first. Asked here so the
                -- common case (no such identity) costs no statement of its own.
                SELECT 'reused_username', user_id, NULL, NULL FROM identities
                 WHERE pool_id = \(target.rawValue) AND username = \(user.username) AND sub <> \(user.sub)
                   AND status IN ('active', 'disabled')
            )
            SELECT c.kind, s.id AS person, c.via, c.pending_key
            FROM candidates c
            JOIN users u ON u.id = c.user_id
            JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
            -- The sub's own owner counts whatever its status (it is linked; answering it beats
            -- refusing every sign-in); candidates for a new link must be active people.
            WHERE c.kind IN ('linked', 'unlinked', 'reused_username') OR s.status = 'active'
            """
        )
        return try evidence(from: rows, confirmation: confirmation)
    }

    /// The rows of ``evidence(for:target:campaign:confirmation:on:)``, one per candidate and its kind.
    private static func evidence(
        from rows: PostgresRows, confirmation: Bool
    ) throws -> (evidence: TriggerLinkRules.Evidence, pendingKey: String?, usernameReused: Bool) {
        var found: [String: [UUID]] = [:]
        var pending: [String: (user: UUID, via: LinkPath, key: String)] = [:]
        for row in rows {
            let kind: String = try row.decode("kind")
            found[kind, default: []].append(try row.decode("person"))
            if kind.hasPrefix("pending") {
                let via = try row.decodeIfPresent("via", as: String.self).flatMap(LinkPath.init(rawValue:)) ?? .lazy
                pending[kind] = (try row.decode("person"), via, try row.decode("pending_key"))
            }
        }
        var evidence = TriggerLinkRules.Evidence(confirmation: confirmation)
        evidence.linkedTo = found["linked"]?.first
        evidence.unlinked = found["unlinked"] != nil
        evidence.attribute = found["attribute"]?.first
        // The username's own pending link first; the verified email's only when there is none.
        let used = pending["pending"] ?? pending["pending_email"]
        if let used { evidence.pending = (used.user, used.via) }
        evidence.federated = TriggerLinkRules.single(found["federated"] ?? [])
        evidence.username = TriggerLinkRules.single(found["username"] ?? [])
        evidence.emailAsUsername = TriggerLinkRules.single(found["email_as_username"] ?? [])
        evidence.verifiedEmail = TriggerLinkRules.single(found["verified_email"] ?? [])
        return (evidence, used?.key, found["reused_username"] != nil)
    }
}

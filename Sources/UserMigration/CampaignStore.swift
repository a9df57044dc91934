public import Foundation
public import IdentityMap
public import Postgres

/// Campaigns: created, listed and moved through their phases, each change with its event.
public struct CampaignStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ new: NewCampaign, attribution: Attribution) -> Write<Campaign> {
        Write { connection in
            let new = try new.validated()
            for pool in [new.target] + new.sources {
                guard try PoolStoreQueries.exists(pool, on: connection) else { throw MigrationError.unknownPool(pool.rawValue) }
            }
            if let busy = try connection.query(
                "SELECT id FROM campaigns WHERE target_pool = \(new.target.rawValue) AND phase <> 'done' FOR UPDATE"
            ).first {
                throw MigrationError.targetBusy(pool: new.target.rawValue, campaign: try busy.decode("id"))
            }
            let id = UUIDv7.make()
            let name = new.name ?? "into \(new.target.rawValue) \(id.uuidString.lowercased().suffix(8))"
            let subset = new.subset.map { PostgresJSON(text: JSONValue.object($0.storedJSON).canonicalText) }
            do {
                try connection.execute(
                    """
                    INSERT INTO campaigns (id, name, target_pool, stable_id_attribute, link_by, mfa_users, target_self_sign_up,
                                           target_attribute_writers, target_sign_in_by_email, target_facts_read_at, target_facts_problem,
                                           subset)
                    VALUES (\(id), \(name), \(new.target.rawValue), \(new.stableIDAttribute),
                            \(PostgresArray(new.linkBy.map(\.rawValue)))::text[], \(new.mfaUsers.rawValue),
                            \(new.targetFacts.selfSignUp), \(new.targetFacts.attributeWriters.map { PostgresArray($0) })::text[],
                            \(new.targetFacts.signInByEmail), \(new.targetFacts.readAt), \(new.targetFacts.problem), \(subset)::jsonb)
                    """
                )
            } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "campaigns_name_key" {
                throw MigrationError.nameTaken(name)
            } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "campaigns_active_target" {
                throw RetryableConflict("another campaign for this target was created concurrently")
            }
            for (position, pool) in new.sources.enumerated() {
                try connection.execute(
                    """
                    INSERT INTO campaign_sources (campaign_id, pool_id, position, client_id, client_secret)
                    VALUES (\(id), \(pool.rawValue), \(position), \(new.clientID(for: pool)),
                            \(new.clientID(for: pool) == nil ? nil : new.clientSecret(for: pool)))
                    """
                )
            }
            try CampaignSubsetStore.insert(new.subsetMembers ?? [], campaign: id, on: connection)
            guard let campaign = try Self.campaign(id, on: connection) else {
                throw PostgresError(kind: .decoding, message: "campaign vanished inside its own transaction")
            }
            try EventLog.append(
                EventDraft(CampaignCreatedDetails(campaign: campaign), pool: campaign.target), attribution: attribution, on: connection)
            return campaign
        }
    }

    public func list() async throws -> [Campaign] {
        try await database.reader.withConnection { connection in
            try connection.query("SELECT id FROM campaigns ORDER BY created_at, id").compactMap { row in
                try Self.campaign(try row.decode("id"), on: connection)
            }
        }
    }

    /// By id, or by name.
    public func campaign(_ idOrName: String) async throws -> Campaign? {
        try await database.reader.withConnection { connection in
            let rows = try connection.query(
                "SELECT id FROM campaigns WHERE name = \(idOrName) OR id::text = \(idOrName.lowercased())"
            )
            guard let row = rows.first else { return nil }
            return try Self.campaign(try row.decode("id"), on: connection)
        }
    }

    public func setPhase(_ idOrName: String, to phase: Campaign.Phase, attribution: Attribution) -> Write<Campaign> {
        Write { connection in
            let rows = try connection.query(
                "SELECT id, phase FROM campaigns WHERE name = \(idOrName) OR id::text = \(idOrName.lowercased()) FOR UPDATE"
            )
            guard let row = rows.first else { throw MigrationError.campaignNotFound(idOrName) }
            let id: UUID = try row.decode("id")
            let from = Campaign.Phase(rawValue: try row.decode("phase")) ?? .lazy
            if from != phase {
                do {
                    try connection.execute(
                        "UPDATE campaigns SET phase = \(phase.rawValue), phase_changed_at = now() WHERE id = \(id)"
                    )
                } catch let error as PostgresError where error.isUniqueViolation {
                    throw MigrationError.invalidCampaign("another campaign for this target pool is not done")
                }
                try EventLog.append(
                    EventDraft(CampaignPhaseChangedDetails(campaign: id, from: from, to: phase)), attribution: attribution, on: connection
                )
            }
            guard let campaign = try Self.campaign(id, on: connection) else { throw MigrationError.campaignNotFound(idOrName) }
            return campaign
        }
    }

    /// Records the target pool's facts as a reconciliation run read them again; a change is an
    /// event (`campaign_target_facts_changed`), the same facts only move the time of reading.
    /// Returns whether they changed.
    public func recordTargetFacts(_ facts: TargetPoolFacts, campaign id: UUID, attribution: Attribution) -> Write<Bool> {
        Write { connection in
            guard let campaign = try Self.campaign(id, forUpdate: true, on: connection) else {
                throw MigrationError.campaignNotFound(id.uuidString.lowercased())
            }
            try connection.execute(
                """
                UPDATE campaigns SET target_self_sign_up = \(facts.selfSignUp),
                    target_attribute_writers = \(facts.attributeWriters.map { PostgresArray($0) })::text[],
                    target_sign_in_by_email = \(facts.signInByEmail),
                    target_facts_read_at = \(facts.readAt), target_facts_problem = \(facts.problem)
                WHERE id = \(id)
                """
            )
            guard !campaign.targetFacts.sameFacts(as: facts) else { return false }
            try EventLog.append(
                EventDraft(
                    CampaignTargetFactsChangedDetails(campaign: id, from: campaign.targetFacts, to: facts), pool: campaign.target),
                attribution: attribution, on: connection
            )
            return true
        }
    }

    static let columns = """
        id, name, target_pool, phase, stable_id_attribute, link_by, mfa_users, target_self_sign_up, target_attribute_writers,
        target_sign_in_by_email, target_facts_read_at, target_facts_problem, created_at, phase_changed_at, subset
        """

    static func campaign(_ id: UUID, forUpdate: Bool = false, on connection: PostgresConnection) throws -> Campaign? {
        guard
            let row = try connection.query(
                "SELECT \(unescaped: columns) FROM campaigns WHERE id = \(id) \(unescaped: forUpdate ? "FOR UPDATE" : "")"
            ).first
        else {
            return nil
        }
        let sources = try connection.query(
            """
            SELECT pool_id, client_id, client_secret IS NOT NULL AS has_secret FROM campaign_sources
            WHERE campaign_id = \(id) ORDER BY position
            """
        ).map { source in
            Campaign.Source(
                pool: try PoolStoreQueries.poolID(try source.decode("pool_id")),
                clientID: try source.decodeIfPresent("client_id"),
                hasClientSecret: try source.decode("has_secret")
            )
        }
        let linkBy: [String] = try row.decode("link_by")
        return Campaign(
            id: id,
            name: try row.decode("name"),
            target: try PoolStoreQueries.poolID(try row.decode("target_pool")),
            sources: sources,
            phase: Campaign.Phase(rawValue: try row.decode("phase")) ?? .lazy,
            stableIDAttribute: try row.decodeIfPresent("stable_id_attribute"),
            linkBy: linkBy.compactMap(Campaign.LinkRule.init(rawValue:)),
            mfaUsers: Campaign.MFAUsers(rawValue: try row.decode("mfa_users")) ?? .reset,
            targetFacts: TargetPoolFacts(
                selfSignUp: try row.decodeIfPresent("target_self_sign_up"),
                attributeWriters: try row.decodeIfPresent("target_attribute_writers"),
                signInByEmail: try row.decodeIfPresent("target_sign_in_by_email"),
                readAt: try row.decodeIfPresent("target_facts_read_at"),
                problem: try row.decodeIfPresent("target_facts_problem")
            ),
            createdAt: try row.decode("created_at"),
            phaseChangedAt: try row.decode("phase_changed_at"),
            subset: try decodeSubset(row.decodeIfPresent("subset", as: PostgresJSON.self))
        )
    }

    /// `campaigns.subset` as stored (``CampaignSubset/storedJSON``, values included); a campaign
    /// whose subset cannot be read must not be taken for one over every user.
    static func decodeSubset(_ stored: PostgresJSON?) throws -> CampaignSubset? {
        guard let stored else { return nil }
        guard let value = try? stored.decode(as: JSONValue.self), let subset = CampaignSubset(storedJSON: value) else {
            throw PostgresError(kind: .decoding, message: "stored campaign subset is malformed")
        }
        return subset
    }

    /// The campaign (not done) whose target is `pool`, if any.
    static func active(target pool: PoolID, on connection: PostgresConnection) throws -> Campaign? {
        guard
            let row = try connection.query(
                "SELECT id FROM campaigns WHERE target_pool = \(pool.rawValue) AND phase <> 'done'"
            ).first
        else { return nil }
        return try campaign(try row.decode("id"), on: connection)
    }

    /// The newest campaign into `pool`, whatever its phase (linking rules outlive the campaign).
    static func latest(target pool: PoolID, on connection: PostgresConnection) throws -> Campaign? {
        guard
            let row = try connection.query(
                "SELECT id FROM campaigns WHERE target_pool = \(pool.rawValue) ORDER BY created_at DESC, id DESC LIMIT 1"
            ).first
        else { return nil }
        return try campaign(try row.decode("id"), on: connection)
    }

    /// The client secret of a campaign's source, for SECRET_HASH. Read only where it is used.
    static func clientSecret(campaign: UUID, source: PoolID, on connection: PostgresConnection) throws -> String? {
        try connection.query(
            "SELECT client_secret FROM campaign_sources WHERE campaign_id = \(campaign) AND pool_id = \(source.rawValue)"
        ).first?.decodeIfPresent("client_secret")
    }
}

/// Pool lookups the migration code needs on its own connection.
enum PoolStoreQueries {
    static func exists(_ pool: PoolID, on connection: PostgresConnection) throws -> Bool {
        !(try connection.query("SELECT 1 FROM pools WHERE id = \(pool.rawValue)").isEmpty)
    }

    static func poolID(_ text: String) throws -> PoolID {
        guard let id = PoolID(text) else { throw PostgresError(kind: .decoding, message: "stored pool id is malformed") }
        return id
    }
}

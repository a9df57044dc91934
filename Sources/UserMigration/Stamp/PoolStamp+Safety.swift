import Cognito
import CognitoIngest
import IdentityMap
import Logging
import Postgres

// Before anything is written: the pool is registered, and ``StampSafety`` finds nothing to refuse
// in what Cognito says of the pool now — its schema and every app client. Checked at the start of
// every invocation, `--resume` included, and again every ``PoolStamp/Options/safetyRecheck`` of a
// run: a client given write access meanwhile stops it (resumable once the client is fixed). Read
// once at the start too: whether a campaign into the pool links new subs by the attribute
// (``PoolStamp/Plan/linkingCampaign``).
extension PoolStamp {
    /// The registered pool, its client and the checked attribute; throws the first refusal.
    func prepare(_ id: PoolID, options: Options) async throws -> Plan {
        guard StampSafety.isCustom(options.attribute) else { throw StampError.notCustomAttribute(options.attribute) }
        guard let pool = try await PoolStore(database: database).pool(id) else { throw IdentityMapError.unknownPool(id.rawValue) }
        let client = try clients.client(for: pool)
        let safety = try await readSafety(of: pool, attribute: options.attribute, client: client)
        if let refusal = safety.refusal {
            logger.warning("stamp refused", metadata: ["pool": "\(id)", "attribute": "\(options.attribute)"])
            throw refusal
        }
        var plan = Plan(pool: pool, attribute: options.attribute, client: client)
        plan.linkingCampaign = try await linkingCampaign(into: id, attribute: options.attribute)
        return plan
    }

    /// The name of the newest campaign into `pool` when it reads `attribute` as link evidence: its
    /// triggers link a sub the map does not hold yet to the person the attribute names (as they do
    /// the users a `campaign finalize --mode csv` import made, at their first sign-in), and
    /// reconciliation's `--fix unmapped` links by it too. Those values are not removed. The newest
    /// campaign, whatever its phase, because the triggers follow it even after it is done.
    func linkingCampaign(into pool: PoolID, attribute: String) async throws -> String? {
        let campaign = try await database.primary.withConnection { connection in
            try CampaignStore.latest(target: pool, on: connection)
        }
        guard let campaign, campaign.stableIDAttribute == attribute else { return nil }
        return campaign.name
    }

    /// The same check during a run; throws the refusal.
    func recheckSafety(_ plan: Plan) async throws {
        let safety = try await readSafety(of: plan.pool, attribute: plan.attribute, client: plan.client)
        if let refusal = safety.refusal {
            logger.error("stamp stopped: the pool is no longer safe to stamp", metadata: ["pool": "\(plan.pool.id)"])
            throw refusal
        }
    }

    /// DescribeUserPool for the schema; ListUserPoolClients (every page) and DescribeUserPoolClient
    /// for each client. A pool that cannot be read stops the run: nothing is assumed safe.
    func readSafety(of pool: Pool, attribute: String, client: CognitoClient) async throws -> StampSafety {
        let id = pool.id.rawValue
        let description = try await client.describeUserPool(poolID: id)
        let schema = (description.SchemaAttributes ?? []).compactMap { StampSafety.SchemaEntry($0) }
        let apps = try await client.describeUserPoolClients(poolID: id).map(StampSafety.AppClient.init)
        return StampSafety(attribute: attribute, pool: id, schema: schema, clients: apps)
    }
}

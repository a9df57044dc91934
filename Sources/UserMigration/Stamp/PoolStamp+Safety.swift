import Cognito
import CognitoIngest
import IdentityMap
import Logging

// Before anything is written: the pool is registered, and ``StampSafety`` finds nothing to refuse
// in what Cognito says of the pool now — its schema and every app client. Checked at the start of
// every invocation, `--resume` included, and again every ``PoolStamp/Options/safetyRecheck`` of a
// run: a client given write access meanwhile stops it (resumable once the client is fixed).
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
        return Plan(pool: pool, attribute: options.attribute, client: client)
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

import Foundation
import IdentityMap
import Postgres

// The unmigrated set of a source pool read whole for `--mode csv` from a file (CSVDecisionTable).
extension FinalizeStore {
    /// The slices the pool's open `unmigrated` findings need so that no table holds more than
    /// `capacity` of them, and about how many each slice holds.
    func csvDecisionSlices(campaign: Campaign, pool: PoolID, capacity: Int) async throws -> (slices: [CSVDecisionSlice], perSlice: Int) {
        let scope = Self.scope(of: campaign.id)
        let count: Int = try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT count(*) AS n FROM findings f
                WHERE f.scope = \(scope) AND f.kind = 'unmigrated' AND f.pool_id = \(pool.rawValue) AND \(fragment: Self.isOpen("f"))
                """
            )[0].decode("n")
        }
        let slices = CSVDecisionSlice.all((count + capacity - 1) / max(capacity, 1))
        return (slices, count / slices.count + count / slices.count / 50)
    }

    /// The same decisions as ``csvDecisions(campaign:pool:subs:)`` for every open `unmigrated`
    /// finding of `pool` whose sub's first byte is in `slice`, in one statement of hash joins
    /// (nested loops are switched off for it: a bulk read of the whole set, whatever the row
    /// estimates say), packed 33 bytes a finding into a `bytea` per first byte of the sub
    /// (chunks, so libpq never holds the set as one message besides the result)
    /// (flags as ``CSVDecisionTable`` reads them: 1 in the target, 2 source active, 4 chosen).
    ///
    /// The subs of `unmigrated` findings are snapshot users' subs, canonical UUIDs by staging
    /// (`ReconciliationRun+Staging`), so the `uuid` cast holds; were that ever broken, the export
    /// fails on the cast rather than leaving a user out.
    func csvDecisionTable(campaign: Campaign, pool: PoolID, slice: CSVDecisionSlice, expected: Int) async throws -> CSVDecisionTable {
        let scope = Self.scope(of: campaign.id)
        let target = campaign.target.rawValue
        let lower = Int(slice.firstBytes.lowerBound)
        let upper = Int(slice.firstBytes.upperBound)
        return try await database.reader.withConnection { connection in
            try connection.transaction { connection in
                try connection.execute("SET LOCAL enable_nestloop = off")
                try connection.execute("SET LOCAL work_mem = '32MB'")
                try connection.execute("SET LOCAL statement_timeout = 600000")
                var table = CSVDecisionTable(expected: expected)
                try connection.forEachBinaryValue(
                    """
                    SELECT string_agg(o.head || set_byte('\\x00'::bytea, 0,
                               (CASE WHEN o.in_target THEN 1 ELSE 0 END)
                               | (CASE WHEN o.source_active THEN 2 ELSE 0 END)
                               | (CASE WHEN o.first_id = o.id THEN 4 ELSE 0 END)), ''::bytea) AS entries
                    FROM (
                        SELECT f.id, f.pool_id, uuid_send(f.sub::uuid) || uuid_send(s.id) AS head,
                               min(f.id) OVER (PARTITION BY s.id) AS first_id,
                               t.person IS NOT NULL AS in_target, iu.id IS NOT NULL AS source_active
                        FROM findings f
                        JOIN users u ON u.id = f.user_id
                        JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
                        LEFT JOIN identities i ON i.pool_id = f.pool_id AND i.sub = f.sub AND i.status = 'active'
                        LEFT JOIN users iu ON iu.id = i.user_id AND \(fragment: Person.survivor(of: "iu")) = s.id
                        LEFT JOIN (SELECT DISTINCT \(fragment: Person.survivor(of: "tu")) AS person
                                   FROM identities ti JOIN users tu ON tu.id = ti.user_id
                                   WHERE ti.pool_id = \(target) AND ti.status = 'active') t ON t.person = s.id
                        WHERE f.scope = \(scope) AND f.kind = 'unmigrated' AND \(fragment: Self.isOpen("f")) AND s.status = 'active'
                    ) o
                    WHERE o.pool_id = \(pool.rawValue) AND get_byte(o.head, 0) BETWEEN \(lower) AND \(upper)
                    GROUP BY get_byte(o.head, 0)
                    """
                ) { packed in
                    if let packed { try table.append(packed: packed) }
                }
                table.seal()
                return table
            }
        }
    }
}

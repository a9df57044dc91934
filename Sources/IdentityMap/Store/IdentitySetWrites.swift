public import Foundation
public import Postgres

/// The identity map's set-wise writes. Other modules decide *which* identities change (a
/// reconciliation fix from its findings, a trigger from a reused username, erasure from a
/// person), and hand them over here; this type owns the UPDATE and the events, so `identities`
/// has one writer and each change keeps one shape whoever asks for it.
///
/// The set-wise forms read a caller's working table (a temp table of the caller's transaction,
/// its name code-chosen SQL) with the columns each function lists, write only the rows that still
/// hold the values the caller saw (compare-and-set), mark those rows `applied`, and append one
/// event per written row with ``EventLog/appendAll(kind:fill:attribution:on:)``.
public enum IdentitySetWrites {
    /// Marks deleted the identities the working table names, each only if it still has
    /// `old_status` and `condition` (over alias `i`) holds for it; one `identity_status_changed`
    /// per row, naming its `finding` and `run`.
    ///
    /// Columns: `finding` (bigint), `identity_id`, `user_id`, `pool_id`, `sub`, `old_status`,
    /// `applied` (boolean, set here).
    public static func markDeleted(
        listedIn table: StaticString, reason: String, run: UUID, condition: PostgresQuery, attribution: Attribution,
        on connection: PostgresConnection
    ) throws {
        try apply(
            """
            UPDATE identities i SET status = 'deleted', updated_at = now()
            FROM \(unescaped: table.description) x
            WHERE i.id = x.identity_id AND i.status = x.old_status AND \(fragment: condition)
            RETURNING x.finding
            """,
            markingIn: table, on: connection
        )
        try appendEvents(
            IdentityStatusChangedDetails.kind,
            details: IdentityStatusChangedDetails.sql(fromColumn: "old_status", toColumn: "'deleted'", reason: reason, run: run),
            forAppliedRowsOf: table, where: "true", attribution: attribution, on: connection
        )
    }

    /// Writes what a pool says of its users (email, verified flag, enabled state) onto the
    /// identities the working table names, each only if it still holds the values the caller saw
    /// (`old_status`, `old_email`, `old_verified`) and `condition` (over alias `i`) holds. A
    /// deleted identity comes back only if no live identity of its pool took its username
    /// (compared case-insensitively, as Cognito's default pools do). Events: an
    /// `identity_status_changed` where the status changed, an `identity_refreshed` (the new
    /// address as personal data) where the email or its flag did.
    ///
    /// Columns: `finding`, `identity_id`, `user_id`, `pool_id`, `sub`, `old_status`, `old_email`,
    /// `old_verified`, `status`, `email`, `email_normalized`, `email_verified`, `email_changed`,
    /// `verified_changed`, `applied` (set here).
    public static func refreshFromPool(
        listedIn table: StaticString, reason: String, run: UUID, condition: PostgresQuery, attribution: Attribution,
        on connection: PostgresConnection
    ) throws {
        try apply(
            """
            UPDATE identities i
            SET email = x.email, email_normalized = x.email_normalized, email_verified = x.email_verified, status = x.status,
                updated_at = now()
            FROM \(unescaped: table.description) x
            WHERE i.id = x.identity_id AND i.status = x.old_status AND i.email IS NOT DISTINCT FROM x.old_email
              AND i.email_verified = x.old_verified AND \(fragment: condition)
              AND (x.old_status <> 'deleted' OR NOT EXISTS (
                  SELECT 1 FROM identities o
                  WHERE o.pool_id = i.pool_id AND lower(o.username) = lower(i.username) AND o.id <> i.id
                    AND o.status IN ('active', 'disabled')))
            RETURNING x.finding
            """,
            markingIn: table, on: connection
        )
        try appendEvents(
            IdentityStatusChangedDetails.kind,
            details: IdentityStatusChangedDetails.sql(fromColumn: "old_status", toColumn: "status", reason: reason, run: run),
            forAppliedRowsOf: table, where: "old_status <> status", attribution: attribution, on: connection
        )
        try appendEvents(
            IdentityRefreshedDetails.kind, details: IdentityRefreshedDetails.sql(run: run), personal: "jsonb_build_object('email', email)",
            forAppliedRowsOf: table, where: "email_changed OR verified_changed", attribution: attribution, on: connection
        )
    }

    /// Runs a compare-and-set `update` of identities from a working table (it returns the
    /// `finding` of each row it wrote) and marks those rows `applied`, in one statement.
    private static func apply(_ update: PostgresQuery, markingIn table: StaticString, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            WITH changed AS (\(fragment: update))
            UPDATE \(unescaped: table.description) SET applied = true WHERE finding IN (SELECT finding FROM changed)
            """
        )
    }

    /// One event of `kind` per applied row of the working table that also meets `condition`
    /// (code-chosen SQL over its columns), in the rows' `finding` order.
    private static func appendEvents(
        _ kind: EventKind, details: PostgresQuery, personal: StaticString = "NULL::jsonb", forAppliedRowsOf table: StaticString,
        where condition: StaticString, attribution: Attribution, on connection: PostgresConnection
    ) throws {
        try EventLog.appendAll(
            kind: kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                SELECT finding, user_id, pool_id, sub, \(fragment: details), \(unescaped: personal.description)
                FROM \(unescaped: table.description) WHERE applied AND (\(unescaped: condition.description))
                """,
            attribution: attribution, on: connection
        )
    }

    /// Cognito keeps usernames unique among existing users, so a new sub under a username the map
    /// still holds for another sub of the pool means that user was deleted from the pool: the old
    /// identity is marked deleted (with its event) instead of blocking the new one.
    public static func retireReusedUsername(
        _ identity: NewIdentity, attribution: Attribution, on connection: PostgresConnection
    ) throws {
        let stale = try connection.query(
            """
            UPDATE identities i SET status = 'deleted', updated_at = now()
            FROM (SELECT id, status FROM identities
                  WHERE pool_id = \(identity.pool.rawValue) AND username = \(identity.username) AND sub <> \(identity.sub)
                    AND status IN ('active', 'disabled') FOR UPDATE) old
            WHERE i.id = old.id
            RETURNING i.user_id, i.sub, old.status AS previous
            """
        )
        for row in stale {
            try EventLog.append(
                EventDraft(
                    IdentityStatusChangedDetails(
                        from: IdentityStatus(rawValue: try row.decode("previous")) ?? .active, to: .deleted,
                        reason: "username reused by a new sub in the pool"
                    ),
                    userID: try row.decode("user_id"), pool: identity.pool, sub: try row.decode("sub")
                ),
                attribution: attribution,
                on: connection
            )
        }
    }

    /// A source pool disabled or deleted its user because StableID asked it to (`stableid campaign
    /// cleanup`): the identity `(pool, sub)` becomes `status` — `disabled` from `active`, or
    /// `deleted` from `active` or `disabled` — with one `identity_status_changed` naming the
    /// campaign. The identity stays on its person (never removed, never unlinked), so what it
    /// resolved to and its history stay readable. False (nothing written) when the identity is
    /// not in a status it may leave that way.
    @discardableResult
    public static func recordPoolStatus(
        pool: PoolID, sub: String, to status: IdentityStatus, reason: String, campaign: UUID, attribution: Attribution,
        on connection: PostgresConnection
    ) throws -> Bool {
        let from: [String]
        switch status {
        case .disabled: from = [IdentityStatus.active.rawValue]
        case .deleted: from = [IdentityStatus.active.rawValue, IdentityStatus.disabled.rawValue]
        case .active, .unlinked: return false
        }
        let changed = try connection.query(
            """
            UPDATE identities i SET status = \(status.rawValue), updated_at = now()
            FROM (SELECT id, status FROM identities
                  WHERE pool_id = \(pool.rawValue) AND sub = \(sub) AND status = ANY(\(PostgresArray(from))::text[]) FOR UPDATE) old
            WHERE i.id = old.id
            RETURNING i.user_id, old.status AS previous
            """
        )
        guard let row = changed.first else { return false }
        try EventLog.append(
            EventDraft(
                IdentityStatusChangedDetails(
                    from: IdentityStatus(rawValue: try row.decode("previous")) ?? .active, to: status, reason: reason, campaign: campaign
                ),
                userID: try row.decode("user_id"), pool: pool, sub: sub
            ),
            attribution: attribution,
            on: connection
        )
        return true
    }

    /// Removes the personal data of every identity of these users (erasure): email and federated
    /// id gone, the username a per-identity placeholder (usernames stay unique per pool). The
    /// caller records the erasure's one `personal_data_erased` event with what else it scrubbed.
    /// Returns the number of identities.
    public static func erasePersonalData(ofUsers ids: PostgresArray<String>, on connection: PostgresConnection) throws -> Int {
        try connection.execute(
            """
            UPDATE identities SET email = NULL, email_normalized = NULL, email_verified = false,
                username = 'erased:' || id, federated_user_id = NULL, updated_at = now()
            WHERE user_id = ANY(\(ids)::uuid[])
            """
        )
    }
}

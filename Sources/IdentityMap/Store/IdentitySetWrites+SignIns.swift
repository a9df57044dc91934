public import Postgres

// Sign-ins the triggers see (`identity_sign_ins`, sql/0025): when an identity first signed in
// through its pool, and — at most once an hour — when it last did. No event: a sign-in changes
// nothing in the map; the clean-up of a source pool asks whether the person's new account is in
// use before it touches the old one.
extension IdentitySetWrites {
    /// `last_signed_in_at` moves only when it is older than this: a user signing in all day long
    /// costs one row write an hour.
    public static let signInResolution: Duration = .seconds(3_600)

    /// Records a sign-in of the identity `(pool, sub)` now, unless it is unlinked or unknown.
    /// (One row, keyed by value: the batch form's arrays make PostgreSQL plan it afresh on every
    /// call, and the link path calls this once per sign-in.)
    public static func recordSignIn(pool: PoolID, sub: String, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO identity_sign_ins AS g (identity_id, first_signed_in_at, last_signed_in_at)
            SELECT i.id, now(), now() FROM identities i
            WHERE i.pool_id = \(pool.rawValue) AND i.sub = \(sub) AND i.status <> 'unlinked'
            \(fragment: signInUpsert)
            """
        )
    }

    /// A sign-in row already there: `last_signed_in_at` moves, at most once per resolution.
    private static var signInUpsert: PostgresQuery {
        let resolution = Int(signInResolution.components.seconds)
        return """
            ON CONFLICT (identity_id) DO UPDATE SET last_signed_in_at = EXCLUDED.last_signed_in_at
                WHERE g.last_signed_in_at <= EXCLUDED.last_signed_in_at - make_interval(secs => \(resolution))
            """
    }

    /// The same for many identities at once (`pools[i]`, `subs[i]`), in identity order (two
    /// writers of overlapping batches lock rows in the same order).
    public static func recordSignIns(pools: [String], subs: [String], on connection: PostgresConnection) throws {
        guard !pools.isEmpty, pools.count == subs.count else { return }
        try connection.execute(
            """
            INSERT INTO identity_sign_ins AS g (identity_id, first_signed_in_at, last_signed_in_at)
            SELECT DISTINCT i.id, now(), now()
            FROM unnest(\(PostgresArray(pools))::text[], \(PostgresArray(subs))::text[]) AS k (pool_id, sub)
            JOIN identities i ON i.pool_id = k.pool_id AND i.sub = k.sub AND i.status <> 'unlinked'
            ORDER BY i.id
            \(fragment: signInUpsert)
            """
        )
    }
}

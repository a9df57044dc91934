import ChangeFeed
import Foundation
import IdentityMap
import Postgres
import Support

/// An endpoint as a worker delivers it: with its secret and full URL, which nothing else reads.
struct Endpoint: Sendable {
    var id: UUID
    var url: WebhookURL
    var secret: WebhookSecret
    /// Empty: every kind.
    var kinds: Set<ChangeKind>
    var allowPrivate: Bool
    var cursor: Int64
    var pendingThrough: Int64?
    var failingSince: Date?
    var attempts: Int
    var nextAttemptAt: Date?
}

/// The lease this server held on an endpoint is gone: another server took it over, or the endpoint
/// was removed or disabled. The worker stops.
struct LeaseLost: Error {}

/// What a failed attempt left in the row.
struct FailureRecord: Sendable {
    var attempts: Int
    var failingSince: Date
    /// The database's clock at the write: the retry window is measured on it.
    var now: Date
}

// The delivery side: each statement a worker runs names its lease (`lease_owner = owner`), so a
// worker that lost it changes nothing and learns so (``LeaseLost``); each one renews the lease.
extension WebhookStore {
    /// Takes up to `limit` enabled endpoints whose lease is free, expired or already this owner's
    /// (a worker of this server that ended), except those in `held`.
    func claim(owner: UUID, except held: [UUID], limit: Int, lease: Duration) async throws -> [Endpoint] {
        guard limit > 0 else { return [] }
        let seconds = lease.seconds
        return try await database.primary.withConnection { connection in
            try connection.query(
                """
                WITH free AS (
                    SELECT id FROM webhooks
                    WHERE state = 'enabled' AND (lease_owner IS NULL OR lease_until < now() OR lease_owner = \(owner))
                      AND NOT (id = ANY(\(PostgresArray(held))::uuid[]))
                    ORDER BY created_at LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE webhooks w SET lease_owner = \(owner), lease_until = now() + make_interval(secs => \(seconds))
                FROM free WHERE w.id = free.id
                RETURNING w.id, w.url, w.secret, w.kinds, w.allow_private, w.cursor, w.pending_through, w.failing_since, w.attempts,
                          w.next_attempt_at
                """
            ).compactMap(Self.endpoint)
        }
    }

    /// Nil for a row that no longer reads as an endpoint (never written by StableID): skipped.
    static func endpoint(_ row: PostgresRow) throws -> Endpoint? {
        let kinds: [String] = try row.decode("kinds")
        guard let url = try? WebhookURL(parsing: try row.decode("url"), allowPrivate: try row.decode("allow_private")),
            let secret = try? WebhookSecret(stored: try row.decode("secret"))
        else { return nil }
        return Endpoint(
            id: try row.decode("id"), url: url, secret: secret, kinds: Set(kinds.compactMap(ChangeKind.init(rawValue:))),
            allowPrivate: try row.decode("allow_private"), cursor: try row.decode("cursor"),
            pendingThrough: try row.decodeIfPresent("pending_through"), failingSince: try row.decodeIfPresent("failing_since"),
            attempts: try row.decode("attempts"), nextAttemptAt: try row.decodeIfPresent("next_attempt_at"))
    }

    /// One fenced write: `set` applied with the lease renewed, or ``LeaseLost``.
    private func fenced(_ id: UUID, owner: UUID, lease: Duration, set: PostgresQuery) async throws {
        let seconds = lease.seconds
        let updated = try await database.primary.withConnection { connection in
            try connection.execute(
                """
                UPDATE webhooks SET \(fragment: set), lease_until = now() + make_interval(secs => \(seconds)), updated_at = now()
                WHERE id = \(id) AND lease_owner = \(owner) AND state = 'enabled'
                """
            )
        }
        if updated == 0 { throw LeaseLost() }
    }

    /// Keeps the lease.
    func renew(_ id: UUID, owner: UUID, lease: Duration) async throws {
        try await fenced(id, owner: owner, lease: lease, set: "lease_owner = lease_owner")
    }

    /// Moves the cursor over positions that hold no change of the endpoint's kinds.
    func advance(_ id: UUID, owner: UUID, to position: Int64, lease: Duration) async throws {
        try await fenced(
            id, owner: owner, lease: lease,
            set: """
                cursor = GREATEST(cursor, \(position)),
                pending_through = CASE WHEN pending_through > GREATEST(cursor, \(position)) THEN pending_through END
                """)
    }

    /// Fixes the message about to be attempted: the changes in (cursor, `through`].
    func pin(_ id: UUID, owner: UUID, through: Int64, lease: Duration) async throws {
        try await fenced(id, owner: owner, lease: lease, set: "pending_through = \(through)")
    }

    /// The receiver took the message: the cursor moves past it and the failure state clears.
    func delivered(_ id: UUID, owner: UUID, through: Int64, lease: Duration) async throws {
        try await fenced(
            id, owner: owner, lease: lease,
            set: """
                cursor = GREATEST(cursor, \(through)), pending_through = NULL, failing_since = NULL, attempts = 0,
                next_attempt_at = NULL, last_error_code = NULL, last_success_at = now()
                """)
    }

    /// Records a failed attempt and when the next is due; returns the failure so far.
    func failed(_ id: UUID, owner: UUID, code: String, retryIn: Duration, lease: Duration) async throws -> FailureRecord {
        let (seconds, retry) = (lease.seconds, retryIn.seconds)
        let row = try await database.primary.withConnection { connection in
            try connection.query(
                """
                UPDATE webhooks SET attempts = attempts + 1, failing_since = COALESCE(failing_since, now()),
                       last_error_code = \(code), next_attempt_at = now() + make_interval(secs => \(retry)),
                       lease_until = now() + make_interval(secs => \(seconds)), updated_at = now()
                WHERE id = \(id) AND lease_owner = \(owner) AND state = 'enabled'
                RETURNING attempts, failing_since, now() AS now
                """
            ).first
        }
        guard let row else { throw LeaseLost() }
        return FailureRecord(
            attempts: try row.decode("attempts"), failingSince: try row.decode("failing_since"), now: try row.decode("now"))
    }

    /// The service stops an endpoint (`failing`, `gone`, `cursor_expired`), with its event.
    /// False when the lease was gone already (another server, or an operator, decided).
    func disable(_ id: UUID, owner: UUID, reason: String) async throws -> Bool {
        try await Write { connection -> Bool in
            let rows = try connection.query(
                """
                UPDATE webhooks SET state = 'disabled', disabled_reason = \(reason), lease_owner = NULL, lease_until = NULL,
                       next_attempt_at = NULL, updated_at = now()
                WHERE id = \(id) AND lease_owner = \(owner) AND state = 'enabled'
                RETURNING \(unescaped: Self.columns)
                """
            )
            guard let row = rows.first else { return false }
            let webhook = try Self.decode(row)
            try EventLog.append(
                EventDraft(
                    WebhookDisabledDetails(
                        webhook: id, reason: reason, cursor: webhook.cursor.position, failingSince: webhook.failingSince,
                        attempts: webhook.attempts, lastErrorCode: webhook.lastErrorCode)),
                attribution: Attribution(actor: .system), on: connection)
            return true
        }
        .run(on: database)
    }

    /// Gives the lease back (a graceful stop), so another server may take over at once.
    func release(_ id: UUID, owner: UUID) async throws {
        try await database.primary.withConnection { connection in
            _ = try connection.execute(
                "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE id = \(id) AND lease_owner = \(owner)")
        }
    }
}

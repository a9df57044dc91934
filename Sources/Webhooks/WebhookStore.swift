import ChangeFeed
public import Foundation
public import IdentityMap
import Postgres

/// Webhook endpoints, administered: add, list, remove, enable, disable — each change with its
/// event in one transaction. The delivery side (leases, cursors, failures) is
/// `WebhookStore+Delivery.swift`. No statement here reads the secret back.
public struct WebhookStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Registers an endpoint; its deliveries start at the end of the feed now (like a new consumer
    /// of `GET /v1/changes`, it does not replay history). `url` is checked by ``WebhookURL``'s
    /// rules, `kinds` are names of change kinds (none: every kind).
    public func add(
        url text: String, secret: WebhookSecret, kinds names: [String], allowPrivate: Bool, note: String?, attribution: Attribution
    ) async throws -> Write<Webhook> {
        let url = try WebhookURL(parsing: text, allowPrivate: allowPrivate)
        let kinds = try Webhook.kinds(names)
        try Webhook.checkNote(note)
        let start = try await ChangeFeedStore(database: database).end()
        return Write { connection in
            let id = UUIDv7.make()
            let rows = try connection.query(
                """
                INSERT INTO webhooks (id, url, secret, secret_fingerprint, kinds, allow_private, description, cursor)
                VALUES (\(id), \(url.text), \(secret.text), \(secret.fingerprint), \(PostgresArray(kinds.map(\.rawValue)))::text[],
                        \(allowPrivate), \(note), \(start.position))
                RETURNING \(unescaped: Self.columns)
                """
            )
            try EventLog.append(
                EventDraft(
                    WebhookAddedDetails(
                        webhook: id, url: url.redacted, kinds: kinds.map(\.rawValue), allowPrivate: allowPrivate,
                        secretFingerprint: secret.fingerprint, cursor: start.position, note: note)),
                attribution: attribution, on: connection
            )
            return try Self.decode(rows[0])
        }
    }

    public func list() async throws -> [Webhook] {
        try await database.primary.withConnection { connection in
            try connection.query("SELECT \(unescaped: Self.columns) FROM webhooks ORDER BY created_at, id").map(Self.decode)
        }
    }

    public func get(_ id: UUID) async throws -> Webhook {
        let found = try await database.primary.withConnection { connection in
            try connection.query("SELECT \(unescaped: Self.columns) FROM webhooks WHERE id = \(id)").first.map(Self.decode)
        }
        guard let found else { throw WebhookError.notFound(id) }
        return found
    }

    /// Deletes the endpoint and its secret. A server delivering to it finds out at its next write
    /// (its lease names a row that is gone) and stops; at most the attempt in flight still goes out.
    public func remove(_ id: UUID, attribution: Attribution) -> Write<Webhook> {
        Write { connection in
            let rows = try connection.query("DELETE FROM webhooks WHERE id = \(id) RETURNING \(unescaped: Self.columns)")
            guard let row = rows.first else { throw WebhookError.notFound(id) }
            let webhook = try Self.decode(row)
            try EventLog.append(
                EventDraft(WebhookRemovedDetails(webhook: id, url: webhook.redactedURL, cursor: webhook.cursor.position)),
                attribution: attribution, on: connection)
            return webhook
        }
    }

    /// Switches a disabled endpoint back on: its failure count starts again, and deliveries resume
    /// from its cursor — the message it was failing on first, under the same id — or, `fromEnd`,
    /// from the end of the feed now (for a cursor past the retention; the changes between are
    /// skipped). An enabled endpoint is answered as it is, without an event.
    public func enable(_ id: UUID, fromEnd: Bool, attribution: Attribution) async throws -> Write<Webhook> {
        var end: FeedCursor?
        if fromEnd { end = try await ChangeFeedStore(database: database).end() }
        let moveTo = end
        return Write { connection in
            let current = try Self.locked(id, on: connection)
            guard current.state == .disabled else {
                if fromEnd { throw WebhookError.enabledAlready(id) }
                return current
            }
            let rows = try connection.query(
                """
                UPDATE webhooks SET state = 'enabled', disabled_reason = NULL, failing_since = NULL, attempts = 0,
                       next_attempt_at = NULL, last_error_code = NULL, lease_owner = NULL, lease_until = NULL,
                       cursor = COALESCE(\(moveTo?.position)::bigint, cursor),
                       pending_through = CASE WHEN \(moveTo?.position)::bigint IS NULL THEN pending_through END,
                       updated_at = now()
                WHERE id = \(id) RETURNING \(unescaped: Self.columns)
                """
            )
            let webhook = try Self.decode(rows[0])
            try EventLog.append(
                EventDraft(WebhookEnabledDetails(webhook: id, cursor: webhook.cursor.position, fromEnd: fromEnd)),
                attribution: attribution, on: connection)
            return webhook
        }
    }

    /// Stops deliveries (reason `operator`). The server delivering it stops at its next write —
    /// within a third of the lease — after the attempt in flight, if any. A disabled endpoint is
    /// answered as it is, without an event.
    public func disable(_ id: UUID, attribution: Attribution) -> Write<Webhook> {
        Write { connection in
            let current = try Self.locked(id, on: connection)
            guard current.state == .enabled else { return current }
            let rows = try connection.query(
                """
                UPDATE webhooks SET state = 'disabled', disabled_reason = 'operator', lease_owner = NULL, lease_until = NULL,
                       next_attempt_at = NULL, updated_at = now()
                WHERE id = \(id) RETURNING \(unescaped: Self.columns)
                """
            )
            let webhook = try Self.decode(rows[0])
            try EventLog.append(
                EventDraft(
                    WebhookDisabledDetails(
                        webhook: id, reason: "operator", cursor: webhook.cursor.position, failingSince: webhook.failingSince,
                        attempts: webhook.attempts, lastErrorCode: webhook.lastErrorCode)),
                attribution: attribution, on: connection)
            return webhook
        }
    }

    /// How many endpoints are in each state (for the `stableid_webhook_endpoints` gauge).
    public func countByState() async throws -> [Webhook.State: Int] {
        try await database.primary.withConnection { connection in
            var counts: [Webhook.State: Int] = [:]
            for state in Webhook.State.allCases { counts[state] = 0 }
            for row in try connection.query("SELECT state, count(*) AS n FROM webhooks GROUP BY state") {
                if let state = Webhook.State(rawValue: try row.decode("state")) { counts[state] = try row.decode("n", as: Int.self) }
            }
            return counts
        }
    }

    // MARK: Rows

    static func locked(_ id: UUID, on connection: PostgresConnection) throws -> Webhook {
        let rows = try connection.query("SELECT \(unescaped: Self.columns) FROM webhooks WHERE id = \(id) FOR UPDATE")
        guard let row = rows.first else { throw WebhookError.notFound(id) }
        return try decode(row)
    }

    /// The columns ``decode(_:)`` reads: everything but the secret.
    /// The cursor is answered as the feed answers it, with its row's check (``FeedCursor``).
    static let columns = """
        id, url, secret_fingerprint, kinds, allow_private, description, state, disabled_reason, cursor, pending_through,
        failing_since, attempts, next_attempt_at, last_error_code, last_success_at, created_at,
        (SELECT f.event_id FROM change_feed f WHERE f.id = webhooks.cursor) AS cursor_event_id,
        (SELECT \(ChangeFeedStore.publishedMicrosSQL) FROM change_feed f WHERE f.id = webhooks.cursor) AS cursor_published_us
        """

    static func decode(_ row: PostgresRow) throws -> Webhook {
        let url: String = try row.decode("url")
        let kinds: [String] = try row.decode("kinds")
        return Webhook(
            id: try row.decode("id"),
            redactedURL: (try? WebhookURL(parsing: url, allowPrivate: true))?.redacted ?? "(unreadable)",
            kinds: kinds.compactMap(ChangeKind.init(rawValue:)),
            allowPrivate: try row.decode("allow_private"),
            note: try row.decodeIfPresent("description"),
            state: Webhook.State(rawValue: try row.decode("state")) ?? .disabled,
            disabledReason: try row.decodeIfPresent("disabled_reason"),
            cursor: FeedCursor(
                position: max(0, try row.decode("cursor", as: Int64.self)),
                check: try row.decodeIfPresent("cursor_event_id", as: Int64.self).map {
                    FeedCursor.check(eventID: $0, publishedMicros: try row.decode("cursor_published_us"))
                }),
            pendingThrough: try row.decodeIfPresent("pending_through"),
            failingSince: try row.decodeIfPresent("failing_since"),
            attempts: try row.decode("attempts"),
            nextAttemptAt: try row.decodeIfPresent("next_attempt_at"),
            lastErrorCode: try row.decodeIfPresent("last_error_code"),
            lastSuccessAt: try row.decodeIfPresent("last_success_at"),
            secretFingerprint: try row.decode("secret_fingerprint"),
            createdAt: try row.decode("created_at")
        )
    }
}

import CryptoPrimitives
public import Foundation
import Postgres

/// The sessions of the report pages (`sql/0018`): made at sign-in, checked on every request,
/// ended by sign-out, expiry or the token's revocation, purged by ``Housekeeping``.
///
/// The cookie holds 32 random bytes (base64url); only their SHA-256 is stored, so the table
/// cannot be used to sign in. Sessions are authentication state, like idempotency records, not
/// changes to the map: they record no audit event (the token's own creation and revocation do).
public struct ReportSessionStore: Sendable {
    public let database: Database

    /// How long a session lasts from sign-in, however busy: a working day, so a forgotten
    /// browser does not stay signed in overnight.
    public static let lifetime: Duration = .seconds(8 * 3600)
    /// How long a session lasts without a request: a report left open in an unattended browser
    /// stops working after half an hour.
    public static let idleTimeout: Duration = .seconds(30 * 60)
    /// The length of a session cookie's value: 32 bytes in unpadded base64url.
    public static let cookieValueLength = 43

    public init(database: Database) {
        self.database = database
    }

    /// A new session for `token` (already authenticated, with the scope the caller requires), and
    /// the cookie value that names it. Nil when the token was revoked in the meantime.
    public func create(for token: APIToken) async throws -> (cookie: String, session: ReportSession)? {
        let cookie = Base64URL.encode(SecureRandom.bytes(count: 32))
        let secret = SecureRandom.bytes(count: 32)
        let hash = PostgresBytes(SHA256.hash(cookie))
        let lifetime = Int(Self.lifetime.components.seconds)
        let times: (Date, Date)? = try await database.primary.withConnection { connection in
            guard
                let row = try connection.query(
                    """
                    INSERT INTO report_sessions (id_hash, token_id, csrf_secret, expires_at)
                    SELECT \(hash)::bytea, t.id, \(PostgresBytes(secret))::bytea, now() + make_interval(secs => \(lifetime))
                    FROM api_tokens t WHERE t.id = \(token.id) AND t.revoked_at IS NULL
                    RETURNING created_at, expires_at
                    """
                ).first
            else { return nil }
            return (try row.decode("created_at", as: Date.self), try row.decode("expires_at", as: Date.self))
        }
        guard let times else { return nil }
        return (cookie, ReportSession(token: token, createdAt: times.0, expiresAt: times.1, csrfSecret: secret))
    }

    /// The live session a cookie names, its idle clock restarted; nil when there is none: unknown,
    /// signed out, past its lifetime or idle timeout, or its token revoked. A value not shaped like
    /// a session cookie is nil without a query.
    public func session(_ cookie: String) async throws -> ReportSession? {
        guard Self.isShapedLikeCookie(cookie) else { return nil }
        let hash = PostgresBytes(SHA256.hash(cookie))
        let idle = Int(Self.idleTimeout.components.seconds)
        return try await database.primary.withConnection { connection in
            guard
                let row = try connection.query(
                    """
                    UPDATE report_sessions s SET last_seen_at = now()
                    FROM api_tokens t
                    WHERE s.id_hash = \(hash) AND t.id = s.token_id AND t.revoked_at IS NULL
                      AND s.signed_out_at IS NULL AND s.expires_at > now()
                      AND s.last_seen_at > now() - make_interval(secs => \(idle))
                    RETURNING t.id, t.name, t.scopes, t.pools, t.created_at, t.revoked_at,
                              s.csrf_secret, s.created_at AS session_created_at, s.expires_at
                    """
                ).first
            else { return nil }
            return ReportSession(
                token: try TokenStore.decode(row),
                createdAt: try row.decode("session_created_at"),
                expiresAt: try row.decode("expires_at"),
                csrfSecret: try row.decode("csrf_secret", as: PostgresBytes.self).bytes
            )
        }
    }

    /// Ends the session a cookie names (if it is live): it is refused from then on.
    public func signOut(_ cookie: String) async throws {
        guard Self.isShapedLikeCookie(cookie) else { return }
        let hash = PostgresBytes(SHA256.hash(cookie))
        _ = try await database.primary.withConnection { connection in
            try connection.execute("UPDATE report_sessions SET signed_out_at = now() WHERE id_hash = \(hash) AND signed_out_at IS NULL")
        }
    }

    /// Deletes every session that can no longer be used (``Housekeeping``): signed out, past its
    /// lifetime or idle timeout, or of a revoked token.
    static func purge(on connection: PostgresConnection) throws -> Int {
        let idle = Int(idleTimeout.components.seconds)
        return try connection.execute(
            """
            DELETE FROM report_sessions
            WHERE signed_out_at IS NOT NULL OR expires_at <= now()
               OR last_seen_at <= now() - make_interval(secs => \(idle))
               OR token_id IN (SELECT id FROM api_tokens WHERE revoked_at IS NOT NULL)
            """
        )
    }

    /// 43 base64url characters: what every session (and sign-in form) cookie value is.
    public static func isShapedLikeCookie(_ value: String) -> Bool {
        value.utf8.count == cookieValueLength && value.utf8.allSatisfy(TokenSecret.isBase64URL)
    }
}

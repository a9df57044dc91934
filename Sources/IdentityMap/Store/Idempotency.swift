public import Foundation
import Postgres

/// An `Idempotency-Key` request: the key, scoped to the token that sent it, and a fingerprint of the
/// request (method, path, body) so a reused key with another request is refused.
public struct IdempotencyKey: Sendable {
    public var tokenID: UUID
    public var key: String
    public var requestFingerprint: [UInt8]

    public static let maxLength = 255
    /// After this the key may be used again for a new request.
    public static let retention: Duration = .seconds(24 * 3600)

    public init(tokenID: UUID, key: String, requestFingerprint: [UInt8]) throws(IdentityMapError) {
        guard !key.isEmpty, key.utf8.count <= Self.maxLength, key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw .invalidInput(field: "Idempotency-Key", reason: "must be 1 to 255 visible ASCII characters")
        }
        self.tokenID = tokenID
        self.key = key
        self.requestFingerprint = requestFingerprint
    }
}

/// The answer given to the first request, replayed verbatim to retries.
public struct RecordedResponse: Sendable, Equatable {
    public var status: Int
    public var body: String
    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

public enum IdempotentOutcome: Sendable, Equatable {
    case executed(RecordedResponse)
    case replayed(RecordedResponse)

    public var response: RecordedResponse {
        switch self {
        case .executed(let response), .replayed(let response): return response
        }
    }
}

extension Write {
    /// Runs the write once per key: the key row is inserted first, in the same transaction, so a
    /// concurrent retry waits on it and then replays the committed answer instead of writing again.
    /// A write that fails rolls back together with its key, so a retry after an error runs afresh.
    public func run(
        on database: Database,
        idempotencyKey: IdempotencyKey,
        respond: @escaping @Sendable (Value) throws -> RecordedResponse
    ) async throws -> IdempotentOutcome {
        let body = self.body
        return try await database.primary.transaction { connection in
            // A request holding this key has not committed yet: say so at once (409, retry later)
            // rather than queue behind its row lock until the lock timeout.
            let keyLock = "\(idempotencyKey.tokenID.uuidString.lowercased()):\(idempotencyKey.key)"
            let free: Bool = try connection.query(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(\(keyLock), 0)) AS free"
            )[0].decode("free")
            guard free else { throw IdentityMapError.idempotencyKeyInUse }
            let fingerprint = PostgresBytes(idempotencyKey.requestFingerprint)
            let retentionSeconds = Int(IdempotencyKey.retention.components.seconds)
            let claimed = try connection.query(
                """
                INSERT INTO idempotency_keys (token_id, key, request_hash)
                VALUES (\(idempotencyKey.tokenID), \(idempotencyKey.key), \(fingerprint))
                ON CONFLICT (token_id, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL, created_at = now()
                    WHERE idempotency_keys.created_at < now() - make_interval(secs => \(retentionSeconds))
                RETURNING 1 AS claimed
                """
            )
            if claimed.isEmpty {
                let rows = try connection.query(
                    """
                    SELECT request_hash, response_status, response_body FROM idempotency_keys
                    WHERE token_id = \(idempotencyKey.tokenID) AND key = \(idempotencyKey.key)
                    """
                )
                guard let row = rows.first else { throw RetryableConflict("idempotency key removed concurrently") }
                let stored: PostgresBytes = try row.decode("request_hash")
                guard stored == fingerprint else { throw IdentityMapError.idempotencyKeyReused }
                guard let status: Int = try row.decodeIfPresent("response_status"),
                    let text: String = try row.decodeIfPresent("response_body")
                else {
                    // The first request holds the key and has not answered yet: the client retries later.
                    throw IdentityMapError.idempotencyKeyInUse
                }
                return .replayed(RecordedResponse(status: status, body: text))
            }
            let value = try body(connection)
            let response = try respond(value)
            try connection.execute(
                """
                UPDATE idempotency_keys SET response_status = \(response.status), response_body = \(response.body)
                WHERE token_id = \(idempotencyKey.tokenID) AND key = \(idempotencyKey.key)
                """
            )
            return .executed(response)
        }
    }
}

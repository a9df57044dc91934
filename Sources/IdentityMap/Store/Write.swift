public import Postgres

/// One write to the map, as a unit that runs inside a transaction together with its events.
///
/// Writes are values so that callers can add to the same transaction (an idempotency record, a
/// batch of several writes) without the API module ever touching SQL or a connection.
public struct Write<Value: Sendable>: Sendable {
    let body: @Sendable (PostgresConnection) throws -> Value

    public init(_ body: @escaping @Sendable (PostgresConnection) throws -> Value) {
        self.body = body
    }

    /// Runs the write inside the caller's transaction: for other domain modules (triggers,
    /// reconciliation) that compose several writes and their events into one commit.
    public func run(inTransactionOn connection: PostgresConnection) throws -> Value {
        try body(connection)
    }

    /// Runs the write in its own transaction on the primary.
    public func run(on database: Database) async throws -> Value {
        let body = self.body
        return try await database.primary.transaction { try body($0) }
    }
}

public import Logging
public import Postgres

/// The PostgreSQL clients StableID uses: the primary for writes, and an optional replica for lookups.
public struct Database: Sendable {
    public let primary: PostgresClient
    /// `DATABASE_READ_URL` when set; otherwise the primary. Lookups tolerate replica lag.
    public let reader: PostgresClient

    public init(primary: PostgresClient, reader: PostgresClient? = nil) {
        self.primary = primary
        self.reader = reader ?? primary
    }

    /// `session` bounds every statement: ``SessionSettings/service`` for the HTTP service,
    /// ``SessionSettings/job`` for batch commands.
    public init(url: String, readURL: String? = nil, maxConnections: Int = 16, session: SessionSettings = .job, logger: Logger) {
        let primary = PostgresClient(
            configuration: .init(conninfo: url, maxConnections: maxConnections, session: session),
            logger: logger
        )
        let reader = readURL.map {
            PostgresClient(configuration: .init(conninfo: $0, maxConnections: maxConnections, session: session), logger: logger)
        }
        self.init(primary: primary, reader: reader)
    }

    public func shutdown() {
        primary.shutdown()
        if reader !== primary { reader.shutdown() }
    }

    /// `SELECT 1` on the primary (and the replica when there is one), for `/readyz`.
    public func ping() async throws {
        try await primary.query("SELECT 1")
        if reader !== primary { try await reader.query("SELECT 1") }
    }

    /// Occupancy of each connection pool, for gauges.
    public struct PoolUsage: Sendable {
        public var role: String
        public var open: Int
        public var idle: Int
        public var leased: Int
        public var waiting: Int
    }

    public func poolUsage() -> [PoolUsage] {
        var clients = [("primary", primary)]
        if reader !== primary { clients.append(("reader", reader)) }
        return clients.map { role, client in
            let stats = client.statistics
            return PoolUsage(role: role, open: stats.open, idle: stats.idle, leased: stats.leased, waiting: stats.waiting)
        }
    }
}

public import Foundation
public import IdentityMap
import Logging
public import Postgres

/// A fresh, migrated database on the PostgreSQL server that `scripts/test` starts.
///
/// Tests that need PostgreSQL fail (never skip) when `DATABASE_URL` is missing, naming the script.
public struct TestDatabase: Sendable {
    public let name: String
    /// libpq URI of this database.
    public let url: String
    public let database: Database

    public static var serverURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
                throw MissingEnvironment(
                    message: "DATABASE_URL is not set: run the tests through scripts/test, which starts PostgreSQL for them"
                )
            }
            return url
        }
    }

    public static var sqlDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["STABLEID_SQL_DIR"] { return URL(fileURLWithPath: dir) }
        // Tests/TestSupport/TestDatabase.swift → repository root
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sql")
    }

    /// Creates `t_<random>`, cloned from a migrated template (unless `migrated` is false).
    ///
    /// Migrating once into a template and cloning it is faster than migrating every test's
    /// database, and keeps cluster-wide statements (`CREATE ROLE`) out of concurrent runs.
    public static func make(migrated: Bool = true, maxConnections: Int = 8) async throws -> TestDatabase {
        let server = try serverURL
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let admin = try PostgresConnection.connect(conninfo: server)
        if migrated {
            let template = try migratedTemplate(admin: admin, server: server)
            try admin.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"))
        } else {
            try admin.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        let url = replacingDatabase(in: server, with: String(name))
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .error
        let database = Database(
            primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: maxConnections), logger: logger)
        )
        return TestDatabase(name: String(name), url: url, database: database)
    }

    /// The migrated template for the current `sql/` files, made once per server under an advisory
    /// lock (test processes may run side by side) and named after the files' checksums.
    static func migratedTemplate(admin: PostgresConnection, server: String) throws -> String {
        let migrator = try SchemaMigrator(directory: sqlDirectory)
        let fingerprint = migrator.migrations.map { "\($0.version):\($0.checksum)" }.joined(separator: ",")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in fingerprint.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let template = "stableid_template_\(String(hash, radix: 16))"
        try admin.execute("SELECT pg_advisory_lock(7357)")
        defer { _ = try? admin.execute("SELECT pg_advisory_unlock(7357)") }
        let exists = try !admin.query("SELECT 1 FROM pg_database WHERE datname = \(template)").isEmpty
        if !exists {
            let building = template + "_building"
            try admin.execute(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(building)"))
            try admin.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(building)"))
            do {
                let connection = try PostgresConnection.connect(conninfo: replacingDatabase(in: server, with: building))
                _ = try migrator.migrate(on: connection)
            }
            try admin.execute(PostgresQuery(unsafeSQL: "ALTER DATABASE \(building) RENAME TO \(template)"))
        }
        return template
    }

    /// A URL that logs in as a fresh role holding only `stableid_service` (the role split the
    /// service runs under in production: no DDL, no UPDATE/DELETE on the audit tables).
    /// Asked again (a second server of the same test), it gives the same role.
    public func serviceRoleURL() throws -> String {
        let role = "svc_" + name
        try connect().execute(
            PostgresQuery(
                unsafeSQL: """
                    DO $$ BEGIN
                        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(role)') THEN
                            CREATE ROLE \(role) LOGIN IN ROLE stableid_service;
                        END IF;
                    END $$
                    """))
        guard var components = URLComponents(string: url) else { return url + " user=\(role)" }
        components.user = role
        return components.string ?? url
    }

    /// A plain connection for assertions that look at tables directly.
    public func connect() throws -> PostgresConnection {
        try PostgresConnection.connect(conninfo: url)
    }

    /// Runs a query on a fresh connection and returns its rows (for assertions).
    public func rows(_ query: PostgresQuery) throws -> PostgresRows {
        try connect().query(query)
    }

    public func count(_ table: String, where condition: String = "true") throws -> Int {
        try rows(PostgresQuery(unsafeSQL: "SELECT count(*) AS n FROM \(table) WHERE \(condition)"))[0].decode("n")
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        // postgresql://user@host:port/dbname?params
        guard var components = URLComponents(string: url) else { return url + " dbname=\(name)" }
        components.path = "/" + name
        return components.string ?? url
    }
}

public struct MissingEnvironment: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

import Foundation
import IdentityMap
import Logging
import Postgres

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

    /// Creates `t_<random>` and applies every migration (unless `migrated` is false).
    public static func make(migrated: Bool = true, maxConnections: Int = 8) async throws -> TestDatabase {
        let server = try serverURL
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let admin = try PostgresConnection.connect(conninfo: server)
        try admin.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        let url = replacingDatabase(in: server, with: String(name))
        if migrated {
            let connection = try PostgresConnection.connect(conninfo: url)
            _ = try SchemaMigrator(directory: sqlDirectory).migrate(on: connection)
        }
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .error
        let database = Database(
            primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: maxConnections), logger: logger)
        )
        return TestDatabase(name: String(name), url: url, database: database)
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

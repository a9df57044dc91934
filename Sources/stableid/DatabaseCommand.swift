import ArgumentParser
import Foundation
import IdentityMap
import Logging

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database schema management.",
        subcommands: [Migrate.self, Status.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pending migrations; exit 1 when some are pending.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Directory of NNNN_name.sql files (default: $STABLEID_SQL_DIR, else the nearest sql/).")
        var migrations: String?

        func run() async throws {
            try await database.withDatabase { db, _ in
                let pending = try await DatabaseCommand.Migrate.pendingMigrations(on: db, directory: migrations)
                if pending.isEmpty {
                    print("schema is up to date")
                } else {
                    for migration in pending { print("pending \(migration.name)") }
                    throw ExitCode(1)
                }
            }
        }
    }
}

extension DatabaseCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending sql/ migrations in order; idempotent; refuses when an applied file changed."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Directory of NNNN_name.sql files (default: $STABLEID_SQL_DIR, else the nearest sql/).")
        var migrations: String?

        func run() async throws {
            let migrator = try Self.migrator(directory: migrations)
            try await database.withDatabase { db, logger in
                let applied = try await migrator.migrate(db)
                for migration in applied {
                    logger.info("migration applied", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                }
                print(applied.isEmpty ? "schema is up to date" : "applied \(applied.count) migration(s)")
            }
        }

        static func migrator(directory: String?) throws -> SchemaMigrator {
            let url =
                try directory.map { URL(fileURLWithPath: $0) } ?? SchemaMigrator.defaultDirectory()
                ?? { throw CLIFailure.usage("cannot find the sql/ directory; pass --migrations DIR or set STABLEID_SQL_DIR") }()
            return try SchemaMigrator(directory: url)
        }

        static func pendingMigrations(on db: Database, directory: String? = nil) async throws -> [SchemaMigrator.Migration] {
            let migrator = try migrator(directory: directory)
            return try await migrator.pending(db)
        }
    }
}

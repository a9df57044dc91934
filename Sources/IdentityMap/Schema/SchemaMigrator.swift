import CryptoPrimitives
public import Foundation
public import Postgres
import Support

/// Applies the numbered, forward-only files of `sql/` and records each with its checksum.
///
/// Refuses to go on when an applied file was edited or removed, because the database would then no
/// longer be what the files say. Holds an advisory lock so replicas starting together migrate once.
public struct SchemaMigrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var checksum: String
        public var sql: String
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case directoryUnreadable(String)
        case badFileName(String)
        case duplicateVersion(Int)
        case appliedFileChanged(version: Int, name: String)
        case appliedFileMissing(version: Int, name: String)
        case outOfOrder(version: Int, name: String)

        public var description: String {
            switch self {
            case .directoryUnreadable(let path): return "cannot read migrations directory \(path)"
            case .badFileName(let name): return "migration file \(name) is not named NNNN_name.sql"
            case .duplicateVersion(let version): return "two migration files have version \(version)"
            case .appliedFileChanged(let version, let name):
                return "migration \(version) (\(name)) was edited after it was applied; restore it and add a new migration instead"
            case .appliedFileMissing(let version, let name):
                return "migration \(version) (\(name)) was applied but its file is missing"
            case .outOfOrder(let version, let name):
                return "migration \(version) (\(name)) is older than one already applied; give it a higher number"
            }
        }
    }

    public let migrations: [Migration]
    static let lockKey: Int64 = 0x5374_6162_6c65  // "Stable"

    public init(directory: URL) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw Failure.directoryUnreadable(directory.path)
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let stem = name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), stem[..<underscore].count == 4,
                let version = Int(stem[..<underscore]), !stem[stem.index(after: underscore)...].isEmpty
            else { throw Failure.badFileName(name) }
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                throw Failure.directoryUnreadable(directory.appendingPathComponent(name).path)
            }
            if migrations.contains(where: { $0.version == version }) { throw Failure.duplicateVersion(version) }
            migrations.append(
                Migration(
                    version: version,
                    name: String(stem),
                    checksum: Hex.encode(SHA256.hash(Array(data))),
                    sql: String(decoding: data, as: UTF8.self)
                )
            )
        }
        self.migrations = migrations
    }

    /// `STABLEID_SQL_DIR`, else the nearest `sql/` above the executable or the working directory.
    public static func defaultDirectory() -> URL? {
        if let configured = ProcessInfo.processInfo.environment["STABLEID_SQL_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let starts = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        ]
        for start in starts {
            var directory = start
            for _ in 0..<8 {
                let candidate = directory.appendingPathComponent("sql")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("0001_identity_map.sql").path) {
                    return candidate
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// Files not yet applied; throws when history and files disagree.
    ///
    /// Reads only: the service runs this at start as a role that may not create tables (the
    /// role split), so a missing history table simply means everything is pending.
    public func pending(on connection: PostgresConnection) throws -> [Migration] {
        let hasHistory = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")[0]
        guard try hasHistory.decode("present", as: Bool.self) else { return migrations }
        let applied = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        var appliedVersions = Set<Int>()
        for row in applied {
            let version: Int = try row.decode("version")
            let name: String = try row.decode("name")
            appliedVersions.insert(version)
            guard let file = migrations.first(where: { $0.version == version }) else {
                throw Failure.appliedFileMissing(version: version, name: name)
            }
            guard file.checksum == (try row.decode("checksum", as: String.self)) else {
                throw Failure.appliedFileChanged(version: version, name: name)
            }
        }
        let newest = appliedVersions.max() ?? 0
        let pending = migrations.filter { !appliedVersions.contains($0.version) }
        if let early = pending.first(where: { $0.version < newest }) {
            throw Failure.outOfOrder(version: early.version, name: early.name)
        }
        return pending
    }

    /// Applies every pending file, each in its own transaction. Returns what was applied.
    public func migrate(on connection: PostgresConnection) throws -> [Migration] {
        try connection.execute("SELECT pg_advisory_lock(\(Self.lockKey))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))") }
        try ensureHistoryTable(on: connection)
        let pending = try self.pending(on: connection)
        for migration in pending {
            try connection.transaction { connection in
                try connection.executeScript(migration.sql)
                try connection.execute(
                    """
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                    """
                )
            }
        }
        return pending
    }

    /// Applies pending migrations on one connection of the primary.
    public func migrate(_ database: Database) async throws -> [Migration] {
        try await database.primary.withConnection { try self.migrate(on: $0) }
    }

    public func pending(_ database: Database) async throws -> [Migration] {
        try await database.primary.withConnection { try self.pending(on: $0) }
    }

    private func ensureHistoryTable(on connection: PostgresConnection) throws {
        try connection.executeScript(
            """
            SET client_min_messages = warning;
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            );
            RESET client_min_messages;
            """
        )
    }
}

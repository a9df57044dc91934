import ArgumentParser
import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Logging

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit trail: seal, verify, sign checkpoints, export.",
        subcommands: [Seal.self, Verify.self, Keygen.self, CheckpointCommand.self, Export.self]
    )

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal committed events into the chain now (the server does this continuously).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            LogSetup.bootstrap()
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            var total = 0
            while true {
                let sealed = try await AuditChain(database: db).seal()
                total += sealed
                if sealed < 5_000 { break }
            }
            let head = try await AuditChain(database: db).head()
            print("sealed \(total); chain has \(head.size) events, head \(head.hash)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the chain. Exit 0 intact, 1 broken (naming the first bad position and what is wrong)."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "First chain position to verify (the hash before it is trusted).") var from: Int64 = 1
        @Option(name: .customLong("checkpoint"), help: "A signed checkpoint file the chain must contain; repeat for several.")
        var checkpoints: [String] = []
        @Option(help: "Base64 public key the checkpoints must be signed with.") var publicKey: String?
        @Option var format: OutputFormat = .table

        func run() async throws {
            LogSetup.bootstrap()
            let parsed = try checkpoints.map { path -> Checkpoint in
                guard let data = FileManager.default.contents(atPath: path), let checkpoint = try? JSONDecoder().decode(Checkpoint.self, from: data) else {
                    throw CLIFailure.usage("\(path) is not a checkpoint file")
                }
                return checkpoint
            }
            let key = try publicKey.map { text -> [UInt8] in
                guard let data = Data(base64Encoded: text), data.count == 32 else { throw CLIFailure.usage("--public-key is not a base64 Ed25519 key") }
                return Array(data)
            }
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let report = try await ChainVerifier(database: db).verify(from: from, checkpoints: parsed, publicKey: key)
            if format == .json || format == .ndjson {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else if let problem = report.problem {
                print("BROKEN at position \(problem.position): \(problem.kind.rawValue): \(problem.detail)")
                print("(\(report.verified) events verified before it)")
            } else {
                print("intact: \(report.verified) events verified, head \(report.head.size) \(report.head.hash), \(report.checkpointsChecked) checkpoint(s) matched, \(report.pending) pending sealing")
            }
            if report.problem != nil { throw ExitCode(1) }
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an Ed25519 signing key for checkpoints (keep it outside the database host).")
        @Option(help: "Where to write the private key (mode 0600).") var out: String

        func run() async throws {
            guard !FileManager.default.fileExists(atPath: out) else { throw CLIFailure.usage("\(out) exists; refusing to overwrite a key") }
            let (privateKey, publicKey) = try Ed25519.generateKeyPair()
            try SigningKeyFile.write(privateKey: privateKey, to: out)
            print("wrote \(out); public key:")
            print(Data(publicKey).base64EncodedString())
        }
    }

    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Seal pending events, then sign the chain head into a small JSON an auditor keeps."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Private key file from `stableid audit keygen`.") var key: String
        @Option(help: "Write the checkpoint here instead of stdout.") var out: String?

        func run() async throws {
            LogSetup.bootstrap()
            let privateKey: [UInt8]
            do {
                privateKey = try SigningKeyFile.read(from: key)
            } catch {
                throw CLIFailure.usage("\(error)")
            }
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let chain = AuditChain(database: db)
            while try await chain.seal() == 5_000 {}
            let checkpoint = try Checkpoint.sign(head: try await chain.head(), privateKey: privateKey)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = try encoder.encode(checkpoint)
            if let out {
                try data.write(to: URL(fileURLWithPath: out))
                print("checkpoint of \(checkpoint.size) events written to \(out)")
            } else {
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream matching events as NDJSON or CSV (constant memory).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var filter: EventFilterOptions
        @Option var format: EventExportFormat = .ndjson

        func run() async throws {
            LogSetup.bootstrap()
            let parsed = try filter.parsed()
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let out = FileHandle.standardOutput
            if format == .csv { out.write(Data(EventExportFormat.csvHeader.utf8)) }
            for try await page in EventQuery(database: db).all(parsed) {
                var chunk = ""
                for event in page { chunk += format.line(event) }
                out.write(Data(chunk.utf8))
            }
        }
    }
}

extension EventExportFormat: ExpressibleByArgument {}

/// The filters of `audit export` (the same as `GET /v1/events`).
struct EventFilterOptions: ParsableArguments {
    @Option(help: "A user id (includes users merged into it).") var user: String?
    @Option var pool: String?
    @Option var sub: String?
    @Option var kind: String?
    @Option var actor: String?
    @Option(help: "RFC 3339 time, inclusive.") var since: String?
    @Option(help: "RFC 3339 time, exclusive.") var until: String?

    func parsed() throws -> EventFilter {
        func time(_ text: String?, _ name: String) throws -> Date? {
            try text.map { value in
                guard let date = RFC3339.parse(value) else { throw CLIFailure.usage("--\(name) is not an RFC 3339 time") }
                return date
            }
        }
        let userID = try user.map { value -> UUID in
            guard let id = UUID(uuidString: value) else { throw CLIFailure.usage("--user is not a UUID") }
            return id
        }
        return EventFilter(userID: userID, pool: pool, sub: sub, kind: kind, actor: actor, since: try time(since, "since"), until: try time(until, "until"))
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Users.", subcommands: [Forget.self])

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a person's personal data (emails, usernames) from identities and events; the audit chain still verifies."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The user id (a merged id erases its survivor and everyone merged into it).") var id: String

        func run() async throws {
            LogSetup.bootstrap()
            guard let userID = UUID(uuidString: id) else { throw CLIFailure.usage("'\(id)' is not a UUID") }
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let result = try await Erasure(database: db).forget(userID: userID, attribution: cliAttribution)
            print("erased personal data of \(result.userID): \(result.identities) identities, \(result.eventsScrubbed) events")
        }
    }
}

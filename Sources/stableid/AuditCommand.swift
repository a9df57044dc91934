public import ArgumentParser
public import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Support

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The tamper-evident audit trail: seal, verify, sign checkpoints, export.",
        subcommands: [Seal.self, Verify.self, Keygen.self, CheckpointCommand.self, Export.self]
    )

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal committed events into the chain now (the server does this continuously).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.withDatabase { db, _ in
                let total = try await AuditChain(database: db).sealAll()
                let head = try await AuditChain(database: db).head()
                print("sealed \(total); chain has \(head.size) events, head \(head.hash)")
            }
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
        @Option(
            help: "Base64 public key the checkpoints must be signed with (default: $STABLEID_AUDIT_PUBLIC_KEY). Required with --checkpoint."
        )
        var publicKey: String?
        @Option(help: "Fail (exit 1) when a committed event has waited longer than this many seconds to be sealed.")
        var maxPendingAge: Double = 60
        @Flag(help: "Also replay the events into the identity map they imply and compare it with the tables.")
        var state = false
        @Option(
            help: "Check an NDJSON export made with `audit export --chain` offline (no database) against the checkpoints instead."
        )
        var file: String?
        @Flag(help: "With --file: accept events exported before they were sealed (they are counted, not proven).")
        var allowUnsealed = false
        @Option var format: OutputFormat = .table

        func run() async throws {
            let parsed = try checkpoints.map { path -> Checkpoint in
                guard let data = FileManager.default.contents(atPath: path),
                    let checkpoint = try? JSONDecoder().decode(Checkpoint.self, from: data)
                else {
                    throw CLIFailure.usage("\(path) is not a checkpoint file")
                }
                return checkpoint
            }
            // A checkpoint proves something only against a key the auditor trusts: the key a
            // checkpoint carries (or none) would let a forger sign their own.
            let trustedKey = publicKey ?? ProcessInfo.processInfo.environment["STABLEID_AUDIT_PUBLIC_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            guard checkpoints.isEmpty || trustedKey != nil else {
                throw CLIFailure.usage("--checkpoint needs --public-key (or STABLEID_AUDIT_PUBLIC_KEY): the key you trust")
            }
            let key = try trustedKey.map { text -> [UInt8] in
                guard let data = Data(base64Encoded: text), data.count == 32 else {
                    throw CLIFailure.usage("--public-key is not a base64 Ed25519 key")
                }
                return Array(data)
            }
            if let file {
                guard !state, from == 1 else {
                    throw CLIFailure.usage("--file checks an export alone: --state and --from need the database")
                }
                // A chain recomputed from the export alone is consistent with itself whatever it
                // says: only a checkpoint signed by a trusted key proves anything.
                guard !parsed.isEmpty else {
                    throw CLIFailure.usage("--file needs --checkpoint (and --public-key): the export is checked against it")
                }
                LogSetup.bootstrap()  // no database on this path, so not through `withDatabase`
                try verifyExport(file, checkpoints: parsed, key: key)
                return
            }
            try await database.withDatabase(maxConnections: 3) { db, _ in
                let report = try await ChainVerifier(database: db).verify(from: from, checkpoints: parsed, publicKey: key)
                if format == .json || format == .ndjson {
                    print(String(decoding: try JSONEncoder.sortedKeys().encode(report), as: UTF8.self))
                } else if let problem = report.problem {
                    print("BROKEN at position \(problem.position): \(problem.kind.rawValue): \(problem.detail)")
                    print("(\(report.verified) events verified before it)")
                } else {
                    print(
                        "intact: \(report.verified) events verified, head \(report.head.size) \(report.head.hash), \(report.checkpointsChecked) checkpoint(s) matched, \(report.pending) pending sealing"
                    )
                }
                if report.problem != nil { throw ExitCode(1) }
                if state {
                    let stateReport = try await StateVerifier(database: db).verify()
                    if format == .json || format == .ndjson {
                        print(String(decoding: try JSONEncoder.sortedKeys().encode(stateReport), as: UTF8.self))
                    } else if stateReport.mismatches.isEmpty {
                        print(
                            "state matches the events: \(stateReport.eventsReplayed) events replayed, \(stateReport.identitiesChecked) identities and \(stateReport.usersChecked) users checked"
                        )
                    } else {
                        for mismatch in stateReport.mismatches {
                            print(
                                "STATE \(mismatch.subject) \(mismatch.key): events imply \(mismatch.expected), table has \(mismatch.found)"
                                    + (mismatch.lastEvent.map { " (last event \($0))" } ?? " (no event)")
                            )
                        }
                    }
                    if !stateReport.mismatches.isEmpty { throw ExitCode(1) }
                }
                if let age = report.oldestPendingSeconds, age > maxPendingAge {
                    FileHandle.standardError.write(
                        Data(
                            "an event has waited \(Int(age)) s to be sealed (more than \(Int(maxPendingAge)) s): is the sealer running?\n"
                                .utf8)
                    )
                    throw ExitCode(1)
                }
            }
        }

        /// Exit 0 intact, 1 with problems (each printed), 3 when the file cannot be read.
        func verifyExport(_ path: String, checkpoints: [Checkpoint], key: [UInt8]?) throws {
            let report: ExportVerifier.Report
            do {
                report = try ExportVerifier.verify(
                    fileAt: path, checkpoints: checkpoints, trustedKey: key, allowUnsealed: allowUnsealed)
            } catch {
                throw CLIFailure.runtime("cannot read \(path): \(error.localizedDescription)")
            }
            if format == .json || format == .ndjson {
                print(String(decoding: try JSONEncoder.sortedKeys().encode(report), as: UTF8.self))
            } else {
                for problem in report.problems {
                    let place = [problem.line.map { "line \($0)" }, problem.position.map { "position \($0)" }].compactMap { $0 }
                    print("BROKEN \(place.joined(separator: ", ")): \(problem.kind.rawValue): \(problem.detail)")
                }
                if report.problemCount > report.problems.count {
                    print("… and \(report.problemCount - report.problems.count) more problems")
                }
                let range = report.firstPosition.map { "positions \($0)–\(report.lastPosition!)" } ?? "no sealed events"
                print(
                    "\(report.intact ? "intact" : "broken"): \(report.sealed) sealed events checked (\(range), \(report.segments) run(s)), "
                        + "\(report.anchored) anchored by \(report.checkpointsChecked) checkpoint(s), \(report.beyondCheckpoints) after the newest checkpoint, "
                        + "\(report.unsealed) unsealed when exported"
                )
            }
            if !report.intact { throw ExitCode(1) }
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an Ed25519 signing key for checkpoints (keep it outside the database host).")
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
            abstract: "Seal pending events, verify the chain, then sign its head into a small JSON an auditor keeps.",
            discussion: """
                Refuses (exit 1) to sign a chain that does not verify, and (exit 2) a key file that group \
                or others may read or write.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Private key file from `stableid audit keygen` (mode 0600).") var key: String
        @Option(help: "Write the checkpoint here instead of stdout.") var out: String?
        @Option(
            help: """
                The last checkpoint signed with this key: the chain is verified from its position on (and must still \
                hold its head) instead of from position 1.
                """
        )
        var previous: String?

        func run() async throws {
            let privateKey: [UInt8]
            do {
                privateKey = try SigningKeyFile.read(from: key)
            } catch {
                throw CLIFailure.usage("\(error)")
            }
            let publicKey = try Ed25519.publicKey(forPrivateKey: privateKey)
            let since = try previous.map { path -> Checkpoint in
                guard let data = FileManager.default.contents(atPath: path),
                    let checkpoint = try? JSONDecoder().decode(Checkpoint.self, from: data)
                else {
                    throw CLIFailure.usage("\(path) is not a checkpoint file")
                }
                return checkpoint
            }
            try await database.withDatabase(maxConnections: 3) { db, _ in
                let chain = AuditChain(database: db)
                _ = try await chain.sealAll()
                // A signature vouches for every position up to the head: sign only what verifies now,
                // and exactly the head that verified (the server's sealer may add positions meanwhile).
                let report = try await ChainVerifier(database: db).verify(
                    from: (since?.size ?? 0) + 1, checkpoints: since.map { [$0] } ?? [], publicKey: publicKey)
                if let problem = report.problem {
                    throw CLIFailure(
                        message:
                            "refusing to sign a broken chain: position \(problem.position): \(problem.kind.rawValue): \(problem.detail) "
                            + "(`stableid audit verify` shows the same)",
                        exitCode: 1)
                }
                let checkpoint = try Checkpoint.sign(head: report.head, privateKey: privateKey)
                let encoder = JSONEncoder.sortedKeys()
                encoder.outputFormatting.insert(.prettyPrinted)
                let data = try encoder.encode(checkpoint)
                if let out {
                    try data.write(to: URL(fileURLWithPath: out))
                    print("checkpoint of \(checkpoint.size) events written to \(out)")
                } else {
                    print(String(decoding: data, as: UTF8.self))
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream matching events as NDJSON or CSV (constant memory).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var filter: EventFilterOptions
        @Option var format: EventExportFormat = .ndjson
        @Flag(help: "Add each event's chain position and hash (NDJSON: everything `audit verify --file` needs).")
        var chain = false

        func run() async throws {
            let parsed = try filter.parsed()
            try await database.withDatabase { db, _ in
                let out = FileHandle.standardOutput
                if let header = format.header(withChain: chain) { out.write(Data(header.utf8)) }
                for try await page in EventQuery(database: db).all(parsed, withChain: chain) {
                    var chunk = ""
                    for event in page { chunk += format.line(event, withChain: chain) }
                    out.write(Data(chunk.utf8))
                }
            }
        }
    }
}

extension EventExportFormat: ExpressibleByArgument {}

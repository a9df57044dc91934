import ArgumentParser
import Cognito
import Foundation
import Hummingbird
import IdentityMap
import Logging
import StableIDAPI
import Webhooks

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (refuses to start while migrations are pending)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (default: host part of $STABLEID_LISTEN, else 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default: port part of $STABLEID_LISTEN, else 8080).")
    var port: Int?

    @Option(help: "Maximum database connections of this process (default: $STABLEID_DB_POOL_SIZE, else 16).")
    var poolSize: Int?

    @Option(help: "Largest accepted request body in bytes.")
    var maxBodyBytes: Int = 1 << 20

    func run() async throws {
        let (host, port) = try listenAddress()
        let poolSize = try self.poolSize ?? environmentInteger("STABLEID_DB_POOL_SIZE", default: 16, range: 1...500)
        guard (1...500).contains(poolSize) else { throw CLIFailure.usage("the pool size must be 1 to 500") }
        // Every setting is read before anything is opened, so a bad one is reported first.
        let resolveBatches = try environmentInteger("STABLEID_RESOLVE_BATCHES", default: 1, range: 1...poolSize)
        let retentionDays = try environmentInteger("STABLEID_CHANGES_RETENTION_DAYS", default: 7, range: 1...3_650)
        let configuration = APIConfiguration(
            host: host, port: port, databaseURL: database.url, maxBodyBytes: maxBodyBytes, resolveBatches: resolveBatches,
            maxQueuedLookups: try environmentInteger("STABLEID_MAX_QUEUED_LOOKUPS", default: 10_000, range: 1...1_000_000),
            idleTimeout: .seconds(try environmentInteger("STABLEID_HTTP_IDLE_TIMEOUT_S", default: 30, range: 1...3_600)),
            bodyTimeout: .milliseconds(try environmentInteger("STABLEID_BODY_TIMEOUT_MS", default: 10_000, range: 100...600_000)),
            lookupCache: try Self.switchSetting("STABLEID_LOOKUP_CACHE") ?? true,
            // Batches admitted while cold leave connections for single lookups and writes.
            coldBatchesInFlight: try environmentInteger(
                "STABLEID_COLD_BATCHES", default: min(4, max(1, poolSize - resolveBatches - 1)),
                range: 1...max(1, poolSize - resolveBatches - 1)),
            readyBeforeWarm: try Self.readyBeforeWarmSetting(),
            drainPeriod: .seconds(try environmentInteger("STABLEID_DRAIN_SECONDS", default: 5, range: 0...300)),
            reportSecureCookies: try Self.switchSetting("STABLEID_REPORT_SECURE_COOKIES"),
            changesRetention: .seconds(24 * 3600 * retentionDays),
            changesKeepAlive: .seconds(try environmentInteger("STABLEID_CHANGES_KEEPALIVE_S", default: 15, range: 1...300)),
            changesMaxWait: .seconds(try environmentInteger("STABLEID_CHANGES_MAX_WAIT_S", default: 30, range: 1...30)),
            changesReadAhead: try Self.switchSetting("STABLEID_CHANGES_READ_AHEAD") ?? true,
            tokenMemoEntries: try environmentInteger(
                "STABLEID_TOKEN_MEMO_ENTRIES", default: VerifiedTokenMemo.defaultCapacity, range: 0...10_000_000),
            webhooks: try Self.webhookSettings()
        )
        let session = try DatabaseOptions.serviceSession()
        try await database.withDatabase(maxConnections: poolSize, session: session) { db, logger in
            let pending = try await DatabaseCommand.Migrate.pendingMigrations(on: db)
            guard pending.isEmpty else {
                throw CLIFailure.usage(
                    "\(pending.count) migration(s) pending (\(pending.map(\.name).joined(separator: ", "))): run `stableid db migrate` first"
                )
            }
            logger.info("stableid serving", metadata: ["host": "\(host)", "port": "\(port)", "db_pool_size": "\(poolSize)"])
            try await runApplication(configuration: configuration, database: db, logger: logger)
        }
    }

    func listenAddress() throws -> (String, Int) {
        var host = "127.0.0.1"
        var port = 8080
        if let listen = ProcessInfo.processInfo.environment["STABLEID_LISTEN"], !listen.isEmpty {
            guard let colon = listen.lastIndex(of: ":"), let parsed = Int(listen[listen.index(after: colon)...]) else {
                throw CLIFailure.usage("STABLEID_LISTEN must be host:port")
            }
            host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = parsed
        }
        if let explicit = self.host { host = explicit }
        if let explicit = self.port { port = explicit }
        guard (0...65535).contains(port) else { throw CLIFailure.usage("port \(port) is out of range") }
        return (host, port)
    }

    /// `STABLEID_WEBHOOK_*`: how webhooks are delivered (docs/OPERATIONS.md, Webhooks). A lease
    /// that one attempt could outlast is refused, not raised: ``WebhookSettings/minimumLease(timeout:)``.
    static func webhookSettings() throws -> WebhookSettings {
        let base = try environmentInteger("STABLEID_WEBHOOK_RETRY_BASE_MS", default: 5_000, range: 10...600_000)
        let timeout = try environmentInteger("STABLEID_WEBHOOK_TIMEOUT_S", default: 10, range: 1...60)
        let lease = try environmentInteger("STABLEID_WEBHOOK_LEASE_S", default: 30, range: 1...3_600)
        let minimum = WebhookSettings.minimumLease(timeout: .seconds(timeout)).components.seconds
        guard lease >= minimum else {
            throw CLIFailure.usage(
                "STABLEID_WEBHOOK_LEASE_S (\(lease) s) must be at least 2 × STABLEID_WEBHOOK_TIMEOUT_S (\(timeout) s) + 3 s = "
                    + "\(minimum) s, so that a delivery attempt ends before another server may take the endpoint over: "
                    + "lengthen the lease or shorten the timeout")
        }
        return WebhookSettings(
            batchSize: try environmentInteger("STABLEID_WEBHOOK_BATCH", default: 100, range: 1...1_000),
            timeout: .seconds(timeout),
            backoff: RetryBackoff(base: .milliseconds(base), cap: .seconds(3_600)),
            giveUpAfter: .seconds(try environmentInteger("STABLEID_WEBHOOK_GIVE_UP_AFTER_S", default: 86_400, range: 1...2_592_000)),
            lease: .seconds(lease),
            maxEndpoints: try environmentInteger("STABLEID_WEBHOOK_WORKERS", default: 32, range: 1...1_000)
        )
    }

    /// An `on`/`off` setting (`STABLEID_LOOKUP_CACHE`, `STABLEID_REPORT_SECURE_COOKIES`,
    /// `STABLEID_CHANGES_READ_AHEAD`): nil when absent or empty (the caller's default), anything
    /// else a usage error (exit 2).
    static func switchSetting(_ name: String) throws -> Bool? {
        switch ProcessInfo.processInfo.environment[name] {
        case nil, "": return nil
        case "on": return true
        case "off": return false
        case .some: throw CLIFailure.usage("\(name) must be on or off")
        }
    }

    /// `STABLEID_READY_BEFORE_WARM`: `true` or `false` (default).
    static func readyBeforeWarmSetting() throws -> Bool {
        switch ProcessInfo.processInfo.environment["STABLEID_READY_BEFORE_WARM"] {
        case nil, "", "false": return false
        case "true": return true
        case .some: throw CLIFailure.usage("STABLEID_READY_BEFORE_WARM must be true or false")
        }
    }
}

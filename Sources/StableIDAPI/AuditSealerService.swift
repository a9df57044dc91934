import AuditTrail
public import IdentityMap
public import Logging
public import ServiceLifecycle

/// Seals committed events into the audit chain continuously. Every replica runs one; an advisory
/// lock lets one seal at a time, so appends never wait on the chain.
public struct AuditSealerService: Service {
    let chain: AuditChain
    let logger: Logger
    let interval: Duration

    public init(database: Database, logger: Logger, interval: Duration = .milliseconds(200)) {
        self.chain = AuditChain(database: database)
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do {
                if try await chain.sealPending().moreWaiting { continue }
            } catch {
                logger.warning("audit sealing failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}

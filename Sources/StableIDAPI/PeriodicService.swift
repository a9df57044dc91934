public import Logging
public import ServiceLifecycle

/// Work that every replica of `serve` does every `interval`: housekeeping, writing counted
/// migration refusals and recorded sign-ins, rereading target-pool facts. One loop for all of them, so each waits the
/// same way (a sleep that a graceful shutdown cuts short) and logs its failures the same way.
///
/// `work` is told whether the server is shutting down: it then runs once more, after the last
/// sleep, and may flush what it holds (or do nothing); the loop ends after that call.
public struct PeriodicService: Service {
    let name: String
    let interval: Duration
    /// Whether the first pass runs at start instead of after one interval.
    let runsAtStart: Bool
    let logger: Logger
    let work: @Sendable (_ shuttingDown: Bool) async throws -> Void

    public init(
        name: String, interval: Duration, runsAtStart: Bool, logger: Logger,
        work: @escaping @Sendable (_ shuttingDown: Bool) async throws -> Void
    ) {
        self.name = name
        self.interval = interval
        self.runsAtStart = runsAtStart
        self.logger = logger
        self.work = work
    }

    public func run() async throws {
        var first = true
        while true {
            if !(first && runsAtStart) {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
            first = false
            let shuttingDown = Task.isCancelledOrShuttingDown
            do {
                try await work(shuttingDown)
            } catch {
                logger.warning("\(name) failed; will retry", metadata: ["error": "\(type(of: error))"])
            }
            if shuttingDown { return }
        }
    }
}

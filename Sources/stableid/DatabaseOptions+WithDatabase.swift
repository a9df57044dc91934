import IdentityMap
import Logging
import Postgres

extension DatabaseOptions {
    /// The start every command with a database shares, written once: logging set up from the
    /// environment, the database opened with the command's pool size and a logger of `label`,
    /// `body` run, and the database shut down on every way out (a result, a failure, `ExitCode`).
    ///
    /// Opening connects nothing (connections open on first use), so a command may check its
    /// arguments inside `body` as well as before. Logging is bootstrapped here, once per process:
    /// a command that also logs without a database bootstraps with ``LogSetup/bootstrap()`` on
    /// that path instead.
    func withDatabase<Value>(
        maxConnections: Int = 1,
        session: SessionSettings = .job,
        label: String = "stableid",
        _ body: (_ db: Database, _ logger: Logger) async throws -> Value
    ) async throws -> Value {
        LogSetup.bootstrap()
        let logger = Logger(label: label)
        let db = database(maxConnections: maxConnections, session: session, logger: logger)
        defer { db.shutdown() }
        return try await body(db, logger)
    }
}

import Foundation
import Support

/// One run of a job at a time: a session-level advisory lock on a connection of its own, held from
/// the start of the run to its end (reconciliation's run lock, finalize's per-campaign lock).
///
/// Chosen over a `running` row with a unique partial index because the lock dies with its session:
/// a run killed by cron's timeout, the OOM killer or a reboot leaves nothing behind to expire, and
/// the next run starts at once. A pooled connection cannot hold it: a lease never spans an
/// `await`, and a run awaits Cognito for minutes.
///
/// `@unchecked Sendable`: the connection is only touched by bodies on the lock's own executor.
public final class SessionAdvisoryLock: @unchecked Sendable {
    /// What ``acquire(name:configuration:applicationName:wait:)`` does when another session holds
    /// the lock.
    public enum Wait: Sendable, Equatable {
        /// Give up at once.
        case no
        /// Wait for it; nil waits as long as it takes.
        case upTo(Duration?)
    }

    private let executor: BlockingExecutor
    private var connection: PostgresConnection?
    /// Hashed into the advisory key (`hashtext`): callers give each job and scope its own prefix.
    public let name: String

    private init(name: String, applicationName: String) {
        self.name = name
        self.executor = BlockingExecutor(label: applicationName + ".lock")
    }

    /// The lock, or nil when another session holds it (and, waiting, still held it when the wait
    /// ran out). Throws when the database cannot be reached.
    public static func acquire(
        name: String, configuration: PostgresClient.Configuration, applicationName: String, wait: Wait = .no
    ) async throws -> SessionAdvisoryLock? {
        let lock = SessionAdvisoryLock(name: name, applicationName: applicationName)
        let acquired: Bool = try await lock.executor.runToCompletion {
            var session = configuration.session
            if case .upTo(let timeout) = wait {
                session.lockTimeoutMilliseconds = timeout.map { Int(max(1, $0.milliseconds)) } ?? 0
            }
            let connection = try PostgresConnection.connect(
                conninfo: configuration.conninfo, applicationName: applicationName,
                connectTimeoutSeconds: configuration.connectTimeoutSeconds, session: session
            )
            switch wait {
            case .no:
                let took: Bool = try connection.query("SELECT pg_try_advisory_lock(hashtext(\(name))) AS acquired")[0]
                    .decode("acquired")
                guard took else { return false }
            case .upTo:
                do {
                    try connection.execute("SELECT pg_advisory_lock(hashtext(\(name)))")
                } catch let error as PostgresError where error.isTimeout {
                    return false
                }
            }
            lock.connection = connection
            return true
        }
        return acquired ? lock : nil
    }

    /// False when the lock's session is gone (the server restarted, the network dropped): the lock
    /// went with it, and another run may have started.
    public func isHeld() async -> Bool {
        (try? await executor.runToCompletion { () -> Bool in
            guard let connection = self.connection, connection.isHealthy else { return false }
            return (try? connection.execute("SELECT 1")) != nil
        }) ?? false
    }

    /// Unlocks and closes. Queued rather than awaited, so it happens even for a cancelled caller,
    /// after any body still using the connection.
    public func release() {
        executor.enqueue { self.close() }
    }

    /// Unlocks and closes, and waits until it is done: a process about to exit would otherwise
    /// leave the lock until the server notices the session is gone, and a run started right
    /// after could find it still held. A cancelled caller falls back to ``release()``.
    public func unlock() async {
        do {
            try await executor.runToCompletion { self.close() }
        } catch {
            release()
        }
    }

    /// On the executor only.
    private func close() {
        if let connection, connection.isHealthy {
            _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext(\(name)))")
        }
        connection = nil
    }
}

public import Foundation
public import Logging
import Support
import Synchronization

/// Progress of a long run (an import, a reconciliation snapshot) for the operator watching it.
///
/// On a terminal: one line on stderr, rewritten in place. Anywhere else (cron, CI, a log
/// collector) carriage returns would only garble the log, so it writes a structured log line at
/// most every `interval` instead.
public final class ProgressReporter: Sendable {
    private struct State {
        var count = 0
        var lastLog: ContinuousClock.Instant
    }

    private let logger: Logger
    private let message: String
    private let noun: String
    private let interval: Duration
    private let isTerminal: Bool
    private let started: ContinuousClock.Instant
    private let state: Mutex<State>

    /// `noun` says what is counted (`staged`), in the terminal line and as the log field's name.
    public init(
        logger: Logger,
        message: String = "import progress",
        noun: String = "staged",
        interval: Duration = .seconds(5),
        isTerminal: Bool = isatty(STDERR_FILENO) == 1
    ) {
        self.logger = logger
        self.message = message
        self.noun = noun
        self.interval = interval
        self.isTerminal = isTerminal
        let now = ContinuousClock.now
        self.started = now
        self.state = Mutex(State(lastLog: now))
    }

    /// Counts `count` more users; `detail` tells how far through its source the run is.
    public func update(adding count: Int, detail: String) {
        let now = ContinuousClock.now
        let seconds = (now - started).seconds
        state.withLock { current in
            current.count += count
            let rate = seconds > 0 ? Int(Double(current.count) / seconds) : 0
            if isTerminal {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(noun) \(current.count) users (\(rate)/s, \(detail))".utf8))
            } else if now - current.lastLog >= interval {
                current.lastLog = now
                logger.info("\(message)", metadata: [noun: "\(current.count)", "per_second": "\(rate)", "position": "\(detail)"])
            }
        }
    }

    /// Clears the terminal line, so what the run prints next starts on a clean one.
    public func finish() {
        guard isTerminal else { return }
        state.withLock { _ in FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    /// Runs `work` and finishes the line however it ends: its summary or its error message then
    /// starts on a clean line.
    public func finishing<T>(_ work: () async throws -> T) async rethrows -> T {
        defer { finish() }
        return try await work()
    }
}

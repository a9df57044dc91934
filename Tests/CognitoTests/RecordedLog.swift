import Logging
import Synchronization

/// What a `Logger` wrote, one line of text per entry (level, message, metadata sorted by key), for
/// tests that check what a log says — and what it must never say.
final class RecordedLog: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    /// A logger that writes here, at every level.
    func logger(label: String = "test") -> Logger {
        Logger(label: label, factory: { _ in Handler(recorder: self) })
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let recorder: RecordedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            recorder.append(([event.level.rawValue, event.message.description] + fields).joined(separator: " "))
        }
    }
}

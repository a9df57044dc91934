import Foundation
import Logging
import Support
import Synchronization

/// Sets up swift-log from `STABLEID_LOG_FORMAT` (`json` or `text`) and `STABLEID_LOG_LEVEL`.
enum LogSetup {
    static func bootstrap() {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["STABLEID_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        let json = environment["STABLEID_LOG_FORMAT"]?.lowercased() == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on stderr: `{"ts","level","logger","message",…metadata}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private static let output = Mutex<Void>(())

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            fields[key] = "\(value)"
        }
        fields["ts"] = RFC3339.format(Date())
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = event.message.description
        guard var data = try? JSONEncoder.sortedKeys().encode(fields) else { return }
        data.append(0x0a)
        Self.output.withLock { _ in FileHandle.standardError.write(data) }
    }
}

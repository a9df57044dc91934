import ArgumentParser
import AuditTrail
import Foundation
import Support

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
        return EventFilter(
            userID: userID, pool: pool, sub: sub, kind: kind, actor: actor, since: try time(since, "since"), until: try time(until, "until")
        )
    }
}

import ChangeFeed
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Logging
import StableIDAPI
import TestSupport
import Testing

/// `GET /v1/changes`: pages, long polls and Server-Sent Events over the real database.
@Suite("Change feed route", .timeLimit(.minutes(3)))
struct ChangesRouteTests {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    static func changes(_ reply: Reply) -> [[String: Any]] {
        reply.json["changes"] as? [[String: Any]] ?? []
    }

    static func metric(_ client: any TestClientProtocol, _ name: String) async throws -> Double {
        LookupCacheRouteTests.sample(try await client.call(.get, "/metrics").text, name)
    }

    /// Waits until the server's one LISTEN connection for the feed is up.
    static func listening(_ client: any TestClientProtocol) async throws {
        let up = try await waitUntil(within: .seconds(30)) { try await metric(client, "stableid_changes_notifier_listening") == 1 }
        try #require(up, "the change feed's notifier never listened")
    }

    static func newUser(
        _ client: any TestClientProtocol, _ f: APIFixture, _ name: String, pool: String = "us-east-1_Old"
    ) async throws
        -> String
    {
        let reply = try await client.call(
            .post, "/v1/users", token: f.tokens[.write],
            json:
                #"{"identities":[{"pool":"\#(pool)","sub":"\#(testSub(name))","username":"\#(name)-secret-name","email":"\#(name).secret@example.com"}]}"#
        )
        try #require(reply.status == 201, "\(reply)")
        return try #require(reply.json["user_id"] as? String)
    }

    @Test("without a cursor: the end; then every kind, in order, with its IDs and no personal data; resumable from any cursor")
    func pages() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        try await f.test { client in
            let first = try await client.call(.get, "/v1/changes", token: token)
            #expect(first.status == 200 && Self.changes(first).isEmpty && first.json["has_more"] as? Bool == false, "\(first)")
            #expect(first.headers[.cacheControl] == "no-store")
            let start = try #require(first.json["next"] as? String)

            let alice = try await Self.newUser(client, f, "ch-alice")
            let bob = try await Self.newUser(client, f, "ch-bob", pool: "eu-west-1_New")
            let aliceSub = testSub("ch-alice")
            #expect(
                try await client.call(.delete, "/v1/users/\(alice)/identities/us-east-1_Old/\(aliceSub)", token: f.tokens[.write]).status
                    == 200)
            let moved = try await client.call(
                .post, "/v1/users/\(bob)/identities", token: f.tokens[.write],
                json:
                    #"{"pool":"us-east-1_Old","sub":"\#(aliceSub)","username":"ch-alice-secret-name","email":"ch-alice.secret@example.com"}"#
            )
            #expect(moved.status == 201, "\(moved)")
            #expect(
                try await client.call(.post, "/v1/users/\(bob)/merge", token: f.tokens[.merge], json: #"{"from":"\#(alice)"}"#).status
                    == 200)
            #expect(
                try await client.call(.post, "/v1/users/\(bob)/unmerge", token: f.tokens[.merge], json: #"{"from":"\#(alice)"}"#).status
                    == 200)
            #expect(try await client.call(.delete, "/v1/users/\(bob)/personal-data", token: f.tokens[.admin]).status == 200)

            // Read in pages of three, following `next`.
            var all: [[String: Any]] = []
            var texts = ""
            var cursor = start
            var pages = 0
            while pages < 10 {
                let page = try await client.call(.get, "/v1/changes?after=\(cursor)&limit=3", token: token)
                try #require(page.status == 200, "\(page)")
                texts += page.text
                all += Self.changes(page)
                cursor = try #require(page.json["next"] as? String)
                pages += 1
                if page.json["has_more"] as? Bool != true { break }
            }
            #expect(
                all.map { $0["kind"] as? String } == [
                    "identity.linked", "identity.linked", "identity.unlinked", "identity.moved", "user.merged", "user.unmerged",
                    "user.erased",
                ], "\(texts)")
            try #require(all.count == 7)
            #expect(
                all[0]["user_id"] as? String == alice && all[0]["pool"] as? String == "us-east-1_Old"
                    && all[0]["sub"] as? String == aliceSub)
            #expect(all[1]["user_id"] as? String == bob && all[1]["pool"] as? String == "eu-west-1_New")
            #expect(all[2]["user_id"] as? String == alice && all[2]["sub"] as? String == aliceSub)
            #expect(
                all[3]["from_user_id"] as? String == alice && all[3]["to_user_id"] as? String == bob && all[3]["user_id"] as? String == bob)
            #expect(all[4]["user_id"] as? String == bob && all[4]["merged_user_ids"] as? [String] == [alice])
            #expect(all[5]["user_id"] as? String == alice && all[5]["restored_user_ids"] as? [String] == [alice])
            #expect(all[6]["user_id"] as? String == bob && all[6]["erased_user_ids"] as? [String] == [bob])
            #expect(all.allSatisfy { $0["event_id"] is Int && $0["occurred_at"] is String && $0["cursor"] is String })
            #expect(cursor == all.last?["cursor"] as? String, "next is the last change's cursor")
            // The events named usernames and emails; the feed never does.
            for secret in ["secret-name", "secret@example.com", "username", "email"] {
                #expect(!texts.contains(secret), "\(secret) in \(texts)")
            }
            // From any change's cursor, what follows it; from the last, nothing; without one, the end.
            let resumed = try await client.call(.get, "/v1/changes?after=\(all[2]["cursor"] as? String ?? "")", token: token)
            #expect(Self.changes(resumed).map { $0["event_id"] as? Int } == all[3...].map { $0["event_id"] as? Int })
            #expect(Self.changes(try await client.call(.get, "/v1/changes?after=\(cursor)", token: token)).isEmpty)
            #expect(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String == cursor)
        }
    }

    @Test(
        "a consumer catching up is answered from the page read ahead after a full one; what commits meanwhile follows it, nothing skipped")
    func readAhead() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        try await f.test { client in
            let start = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            var users: [String] = []
            for n in 0..<4 { users.append(try await Self.newUser(client, f, "ahead-\(n)")) }
            func reads() async throws -> Double { try await Self.metric(client, "stableid_changes_page_reads_total") }
            func used() async throws -> Double { try await Self.metric(client, "stableid_changes_read_ahead_used_total") }

            let readsBefore = try await reads()
            let first = try await client.call(.get, "/v1/changes?after=\(start)&limit=2", token: token)
            #expect(Self.changes(first).map { $0["user_id"] as? String } == Array(users[0..<2]) && first.json["has_more"] as? Bool == true)
            let second = try #require(first.json["next"] as? String)
            // The full page started the read of the next one; it ends on its own.
            let readAhead = try await waitUntil(within: .seconds(10)) { try await reads() - readsBefore == 2 }
            #expect(readAhead, "the next page was not read ahead")
            // Another limit is another answer: read afresh, the page read ahead left alone.
            let usedBefore = try await used()
            let other = try await client.call(.get, "/v1/changes?after=\(second)&limit=3", token: token)
            #expect(Self.changes(other).map { $0["user_id"] as? String } == Array(users[2..<4]))
            #expect(try await reads() - readsBefore == 3, "a page of another limit was not read afresh")
            #expect(try await used() == usedBefore, "a page of another limit was answered from the read ahead")
            // A change committed after the read ahead is not on the page read ahead, but after it.
            users.append(try await Self.newUser(client, f, "ahead-late"))
            let page2 = try await client.call(.get, "/v1/changes?after=\(second)&limit=2", token: token)
            #expect(Self.changes(page2).map { $0["user_id"] as? String } == Array(users[2..<4]), "\(page2)")
            #expect(try await used() - usedBefore == 1, "not answered from the page read ahead")
            // Page 2 was full, so page 3 is read ahead once page 2 was answered: the late change
            // comes next, and nothing after it is skipped.
            var rest: [String] = []
            var cursor = try #require(page2.json["next"] as? String)
            for _ in 0..<5 {
                let page = try await client.call(.get, "/v1/changes?after=\(cursor)&limit=2", token: token)
                try #require(page.status == 200, "\(page)")
                rest += Self.changes(page).compactMap { $0["user_id"] as? String }
                cursor = try #require(page.json["next"] as? String)
                if page.json["has_more"] as? Bool == false { break }
            }
            #expect(rest == [users[4]], "\(rest)")
        }
    }

    @Test("with read-ahead off, a full page reads nothing ahead")
    func readAheadOff() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        var configuration = f.configuration
        configuration.changesReadAhead = false
        try await f.app(configuration: configuration).test(.router) { client in
            let start = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            for n in 0..<3 { _ = try await Self.newUser(client, f, "no-ahead-\(n)") }
            let before = try await Self.metric(client, "stableid_changes_page_reads_total")
            let page = try await client.call(.get, "/v1/changes?after=\(start)&limit=2", token: token)
            #expect(page.json["has_more"] as? Bool == true)
            let next = try #require(page.json["next"] as? String)
            #expect(Self.changes(try await client.call(.get, "/v1/changes?after=\(next)&limit=2", token: token)).count == 1)
            #expect(try await Self.metric(client, "stableid_changes_read_ahead_used_total") == 0)
            #expect(try await Self.metric(client, "stableid_changes_page_reads_total") - before == 2)
        }
    }

    @Test("a token of scope changes reads the feed and nothing else; no other scope reads the feed")
    func scope() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let token = f.tokens[.changes]!
            #expect(try await client.call(.get, "/v1/changes", token: token).status == 200)
            #expect(try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("x"))", token: token).code == "forbidden")
            #expect(try await client.call(.get, "/v1/events", token: token).code == "forbidden")
            for scope in Scope.allCases where scope != .changes {
                let reply = try await client.call(.get, "/v1/changes", token: f.tokens[scope])
                #expect(reply.status == 403 && reply.code == "forbidden", "\(scope): \(reply)")
            }
        }
    }

    @Test("400 invalid_cursor for a cursor the feed never gave; 400 for wait and limit out of range; 410 cursor_expired past the retention")
    func refusals() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        try await f.test { client in
            for bad in ["x", "AQAAAAAAAAA", "AAAAAAAAAAAA", "AY__________", "12345", "AQAAAAAAAAAA%3D"] {
                let reply = try await client.call(.get, "/v1/changes?after=\(bad)", token: token)
                #expect(reply.status == 400 && reply.code == "invalid_cursor" && reply.isProblem, "\(bad): \(reply)")
            }
            let stream = try await client.call(
                .get, "/v1/changes", token: token, headers: [.accept: "text/event-stream", Self.lastEventID: "nope"])
            #expect(stream.status == 400 && stream.code == "invalid_cursor", "\(stream)")
            for query in ["wait=31", "wait=-1", "wait=1.5", "limit=0", "limit=1001"] {
                let reply = try await client.call(.get, "/v1/changes?\(query)", token: token)
                #expect(reply.status == 400 && reply.code == "invalid_request", "\(query): \(reply)")
            }

            let start = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            _ = try await Self.newUser(client, f, "expiring")
            let end = try #require(try await client.call(.get, "/v1/changes?after=\(start)", token: token).json["next"] as? String)
            #expect(end != start)
            #expect(try await ChangeFeedLog.prune(olderThan: .zero, on: f.db.database) == 1)
            let expired = try await client.call(.get, "/v1/changes?after=\(start)&wait=5", token: token)
            #expect(expired.status == 410 && expired.code == "cursor_expired" && expired.isProblem, "\(expired)")
            let detail = expired.json["detail"] as? String ?? ""
            #expect(detail.contains("GET /v1/changes without `after`") && detail.contains("GET /v1/users/{id}"), "\(detail)")
            #expect(try await client.call(.get, "/v1/changes?after=\(end)", token: token).status == 200, "the end is still followed")
            let ahead = FeedCursor(position: 1_000_000).text
            #expect(try await client.call(.get, "/v1/changes?after=\(ahead)", token: token).code == "cursor_expired")
            let streamExpired = try await client.call(
                .get, "/v1/changes", token: token, headers: [.accept: "text/event-stream", Self.lastEventID: start])
            #expect(streamExpired.status == 410, "a stream answers a status before it begins: \(streamExpired)")
        }
    }

    @Test("a long poll is held while nothing is new and answered by the NOTIFY of the commit that publishes a change")
    func longPoll() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        try await f.test { client in
            try await Self.listening(client)
            let end = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            // Nothing new: held for the wait, then an empty page at the same cursor — read once:
            // an idle consumer costs the database nothing while it is held.
            let readsBefore = try await Self.metric(client, "stableid_changes_page_reads_total")
            let idle = ContinuousClock.now
            let empty = try await client.call(.get, "/v1/changes?after=\(end)&wait=3", token: token)
            #expect(ContinuousClock.now - idle >= .milliseconds(2_900), "not held")
            #expect(Self.changes(empty).isEmpty && empty.json["next"] as? String == end)
            #expect(try await Self.metric(client, "stableid_changes_page_reads_total") - readsBefore == 1)

            async let polled = client.call(.get, "/v1/changes?after=\(end)&wait=25", token: token)
            let holding = try await waitUntil(within: .seconds(10)) { try await Self.metric(client, "stableid_changes_waiters") >= 1 }
            #expect(holding, "the long poll was never held")
            let user = try await Self.newUser(client, f, "long-poll")
            let committed = ContinuousClock.now
            let reply = try await polled
            let answered = ContinuousClock.now
            #expect(Self.changes(reply).map { $0["user_id"] as? String } == [user], "\(reply)")
            // Held requests read only when woken, so nothing but the NOTIFY answers this before
            // its 25 s; the bound leaves room for a loaded two-core CI machine.
            #expect(answered - committed < .seconds(5), "answered \(answered - committed) after the commit")
            #expect(try await Self.metric(client, "stableid_changes_waiters") == 0)
            let requests = try await client.call(.get, "/metrics").text
            #expect(requests.contains(#"stableid_changes_requests_total{mode="wait"} 2"#), "\(requests)")
        }
    }

    @Test("Server-Sent Events: resumed from Last-Event-ID, one event per change, keep-alive comments, ended by the drain")
    func serverSentEvents() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        let drain = DrainSignal()
        var configuration = f.configuration
        configuration.changesKeepAlive = .milliseconds(200)
        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        let app = buildApplication(configuration: configuration, database: f.db.database, logger: logger, drain: drain)
        try await app.test(.router) { client in
            try await Self.listening(client)
            let start = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            for name in ["sse-1", "sse-2", "sse-3"] { _ = try await Self.newUser(client, f, name) }
            let cursors = Self.changes(try await client.call(.get, "/v1/changes?after=\(start)", token: token)).compactMap {
                $0["cursor"] as? String
            }
            try #require(cursors.count == 3)
            let delivered = try await Self.metric(client, "stableid_changes_publish_lag_seconds_count")

            // Reconnecting after the first event: Last-Event-ID wins over the `after` the stream began with.
            async let streamed = client.call(
                .get, "/v1/changes?after=\(start)", token: token, headers: [.accept: "text/event-stream", Self.lastEventID: cursors[0]])
            let open = try await waitUntil(within: .seconds(10)) { try await Self.metric(client, "stableid_changes_waiters") >= 1 }
            #expect(open, "the stream never opened")
            let fourth = try await Self.newUser(client, f, "sse-4")
            let sent = try await waitUntil(within: .seconds(10)) {
                try await Self.metric(client, "stableid_changes_publish_lag_seconds_count") >= delivered + 3
            }
            #expect(sent, "the stream did not deliver the changes")
            // Idle for several keep-alives (room for a loaded CI machine), then the server drains:
            // the stream ends.
            try await Task.sleep(for: .milliseconds(1_500))
            drain.beginDraining()
            let reply = try await streamed
            #expect(reply.status == 200 && reply.headers[.contentType] == "text/event-stream")
            let blocks = reply.text.components(separatedBy: "\n\n").compactMap { block -> [String: String]? in
                var fields: [String: String] = [:]
                for line in block.split(separator: "\n") where !line.hasPrefix(":") {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    fields[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                }
                return fields.isEmpty ? nil : fields
            }
            // The stream opens by setting the last event id to where it starts (a block without
            // data: no event), so a client that reconnects before any change resumes from there.
            #expect(blocks.first == ["id": cursors[0]], "\(reply.text)")
            let events = blocks.filter { $0["data"] != nil }
            #expect(events.count == 3, "\(reply.text)")
            #expect(Array(events.prefix(2).map { $0["id"] }) == [cursors[1], cursors[2]], "\(reply.text)")
            #expect(events.allSatisfy { $0["event"] == "identity.linked" })
            let data = events.compactMap { $0["data"] }.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            #expect(data.map { $0?["cursor"] as? String } == events.map { $0["id"] })
            #expect(data.last??["user_id"] as? String == fourth)
            #expect(reply.text.contains(": keep-alive"), "\(reply.text)")
            // The last id resumes to nothing more.
            let last = try #require(events.last?["id"])
            #expect(Self.changes(try await client.call(.get, "/v1/changes?after=\(last)", token: token)).isEmpty)
        }
    }

    @Test("a cursor survives a new server instance over the same database (a restart)")
    func restart() async throws {
        let f = try await APIFixture.make()
        let token = f.tokens[.changes]!
        let (start, afterFirst) = try await f.test { client in
            let start = try #require(try await client.call(.get, "/v1/changes", token: token).json["next"] as? String)
            _ = try await Self.newUser(client, f, "before-restart")
            let page = try await client.call(.get, "/v1/changes?after=\(start)", token: token)
            return (start, try #require(page.json["next"] as? String))
        }
        try await f.test { client in
            let later = try await Self.newUser(client, f, "after-restart")
            let page = try await client.call(.get, "/v1/changes?after=\(afterFirst)", token: token)
            #expect(Self.changes(page).map { $0["user_id"] as? String } == [later], "\(page)")
            let all = Self.changes(try await client.call(.get, "/v1/changes?after=\(start)", token: token))
            #expect(all.count == 2 && all.first?["cursor"] as? String == afterFirst)
        }
    }
}

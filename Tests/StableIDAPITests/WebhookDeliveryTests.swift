import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import StableIDAPI
import TestSupport
import Testing
import Webhooks

/// `serve`'s webhook deliveries, end to end: the application with its services over the real
/// database, a receiver on 127.0.0.1, signatures checked by Python.
@Suite("Webhook deliveries", .timeLimit(.minutes(4)))
struct WebhookDeliveryTests {
    /// Fast enough for tests: small batches, short backoff, the shortest lease a 5 s attempt
    /// timeout allows (``WebhookSettings/minimumLease(timeout:)``: 13 s; these tests stop their
    /// servers gracefully, which gives the lease back, so its length costs them no time).
    static func configuration(_ f: APIFixture, giveUpAfter: Duration = .seconds(3_600), batch: Int = 3) -> APIConfiguration {
        var configuration = f.configuration
        configuration.webhooks = WebhookSettings(
            batchSize: batch, timeout: .seconds(5), backoff: RetryBackoff(base: .milliseconds(50), cap: .milliseconds(200)),
            giveUpAfter: giveUpAfter, lease: .seconds(13), scanInterval: .milliseconds(100))
        return configuration
    }

    static func add(
        _ client: any TestClientProtocol, _ f: APIFixture, url: String, secret: String, kinds: [String]? = nil, allowPrivate: Bool = true
    ) async throws -> Reply {
        var body: [String: Any] = ["url": url, "secret": secret, "allow_private": allowPrivate]
        if let kinds { body["kinds"] = kinds }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let reply = try await client.call(.post, "/v1/webhooks", token: f.tokens[.admin], json: json)
        try #require(reply.status == 201, "\(reply)")
        return reply
    }

    /// The endpoint as `GET /v1/webhooks` lists it.
    static func webhook(_ client: any TestClientProtocol, _ f: APIFixture, _ id: String) async throws -> [String: Any] {
        let list = try await client.call(.get, "/v1/webhooks", token: f.tokens[.admin])
        let all = list.json["webhooks"] as? [[String: Any]] ?? []
        return try #require(all.first { $0["id"] as? String == id }, "\(list)")
    }

    /// Every change of the feed after `cursor`, as `GET /v1/changes` answers them.
    static func feed(_ client: any TestClientProtocol, _ f: APIFixture, after cursor: String) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var next = cursor
        while true {
            let page = try await client.call(.get, "/v1/changes?after=\(next)&limit=1000", token: f.tokens[.changes])
            try #require(page.status == 200, "\(page)")
            all += ChangesRouteTests.changes(page)
            next = try #require(page.json["next"] as? String)
            if page.json["has_more"] as? Bool != true { return all }
        }
    }

    /// Each change as canonical JSON text, to compare lists exactly.
    static func canonical(_ changes: [[String: Any]]) -> [String] {
        changes.map { String(decoding: (try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])) ?? Data(), as: UTF8.self) }
    }

    /// Drops repeats of a change already seen (by cursor), keeping the first: what an idempotent receiver keeps.
    static func firstSeen(_ changes: [[String: Any]]) -> [[String: Any]] {
        var seen = Set<String>()
        return changes.filter { seen.insert($0["cursor"] as? String ?? "").inserted }
    }

    @Test("the feed's changes arrive in order, exactly as GET /v1/changes answers them, in signed batches; the secret is never answered")
    func deliversTheFeed() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver()
        let secret = IndependentSignatureCheck.newSecret()
        try await receiver.run { url in
            try await f.app(configuration: Self.configuration(f)).test(.router) { client in
                let added = try await Self.add(client, f, url: url, secret: secret)
                let id = try #require(added.json["id"] as? String)
                let start = try #require(added.json["cursor"] as? String)
                let fingerprint = try IndependentSignatureCheck.fingerprint(secret)
                #expect(added.json["secret_fingerprint"] as? String == fingerprint)
                #expect(!added.text.contains(String(secret.dropFirst(6))) && added.json["secret"] == nil, "\(added)")

                let alice = try await ChangesRouteTests.newUser(client, f, "wh-alice")
                let bob = try await ChangesRouteTests.newUser(client, f, "wh-bob", pool: "eu-west-1_New")
                let merged = try await client.call(.post, "/v1/users/\(bob)/merge", token: f.tokens[.merge], json: #"{"from":"\#(alice)"}"#)
                #expect(merged.status == 200, "\(merged)")
                for n in 0..<5 { _ = try await ChangesRouteTests.newUser(client, f, "wh-\(n)") }
                let feed = try await Self.feed(client, f, after: start)
                try #require(feed.count == 8, "\(feed.count) changes in the feed")

                let arrived = try await waitUntil(within: .seconds(60)) { receiver.acceptedChanges.count >= feed.count }
                try #require(arrived, "\(receiver.acceptedChanges.count) of \(feed.count) changes arrived")
                #expect(Self.canonical(receiver.acceptedChanges) == Self.canonical(feed))
                let requests = receiver.requests
                #expect(requests.allSatisfy { $0.changes.count <= 3 && $0.json["type"] as? String == "stableid.changes" })
                #expect(Set(requests.map(\.id)).count == requests.count, "one id per message")
                let verdicts = try IndependentSignatureCheck.verify(requests, secret: secret)
                #expect(verdicts.count == requests.count && !verdicts.contains(false), "\(verdicts)")
                // `next` of the last message is the cursor the endpoint now holds: the last change's.
                let last = try #require(requests.last)
                #expect((last.json["data"] as? [String: Any])?["next"] as? String == feed.last?["cursor"] as? String)
                let listed = try await Self.webhook(client, f, id)
                #expect(listed["cursor"] as? String == feed.last?["cursor"] as? String && listed["attempts"] as? Int == 0)

                // Nowhere else either: lists, events, the events table.
                let list = try await client.call(.get, "/v1/webhooks", token: f.tokens[.admin])
                let events = try await client.call(.get, "/v1/events?kind=webhook_added", token: f.tokens[.audit])
                for text in [list.text, events.text] {
                    #expect(!text.contains(String(secret.dropFirst(6))), "\(text)")
                }
                #expect(try f.db.count("events", where: "details::text LIKE '%\(secret.dropFirst(6).prefix(20))%'") == 0)
            }
        }
    }

    @Test("a message refused twice is sent again under the same webhook-id with the same body, delivered once, the cursor moved once")
    func retries() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver(statuses: [500, 503, 200])
        let secret = IndependentSignatureCheck.newSecret(bytes: 24)
        try await receiver.run { url in
            try await f.app(configuration: Self.configuration(f)).test(.router) { client in
                let id = try #require(try await Self.add(client, f, url: url, secret: secret).json["id"] as? String)
                _ = try await ChangesRouteTests.newUser(client, f, "wh-retry")
                let delivered = try await waitUntil(within: .seconds(30)) { receiver.accepted.count == 1 }
                try #require(delivered, "\(receiver.requests.map(\.status))")
                // Nothing more comes once it was taken.
                try await Task.sleep(for: .milliseconds(500))
                let requests = receiver.requests
                #expect(requests.map(\.status) == [500, 503, 200])
                #expect(Set(requests.map(\.id)).count == 1 && Set(requests.map(\.body)).count == 1)
                #expect(try IndependentSignatureCheck.verify(requests, secret: secret) == [true, true, true])
                let listed = try await Self.webhook(client, f, id)
                #expect(listed["cursor"] as? String == requests[0].changes.first?["cursor"] as? String)
                #expect(listed["attempts"] as? Int == 0 && listed["failing_since"] == nil && listed["last_success_at"] is String)
            }
        }
    }

    @Test("failing past the retry window disables the endpoint with a webhook_disabled event; enable resumes with the same message")
    func disablesThenResumes() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver(statuses: [503])
        let secret = IndependentSignatureCheck.newSecret()
        try await receiver.run { url in
            try await f.app(configuration: Self.configuration(f, giveUpAfter: .seconds(1))).test(.router) { client in
                let id = try #require(try await Self.add(client, f, url: url, secret: secret).json["id"] as? String)
                _ = try await ChangesRouteTests.newUser(client, f, "wh-failing")
                let disabled = try await waitUntil(within: .seconds(30)) {
                    try await Self.webhook(client, f, id)["state"] as? String == "disabled"
                }
                try #require(disabled, "\(receiver.requests.map(\.status))")
                let listed = try await Self.webhook(client, f, id)
                #expect(listed["disabled_reason"] as? String == "failing" && listed["last_error_code"] as? String == "http_503")
                let events = try await client.call(.get, "/v1/events?kind=webhook_disabled", token: f.tokens[.audit])
                let details = (events.json["events"] as? [[String: Any]])?.first?["details"] as? [String: Any] ?? [:]
                #expect(details["reason"] as? String == "failing" && details["webhook"] as? String == id, "\(events)")
                #expect((details["attempts"] as? Int ?? 0) >= 2 && details["last_error_code"] as? String == "http_503")
                let failedIDs = Set(receiver.requests.map(\.id))
                #expect(failedIDs.count == 1)

                // Disabled: nothing is attempted any more.
                let attempted = receiver.requests.count
                try await Task.sleep(for: .milliseconds(500))
                #expect(receiver.requests.count == attempted)

                receiver.answer([200])
                let enabled = try await client.call(.post, "/v1/webhooks/\(id)/enable", token: f.tokens[.admin])
                #expect(enabled.status == 200 && enabled.json["state"] as? String == "enabled", "\(enabled)")
                let resumed = try await waitUntil(within: .seconds(30)) { receiver.accepted.count == 1 }
                try #require(resumed)
                #expect(receiver.accepted.first?.id == failedIDs.first, "the same message, under the same id")
                let enabledEvents = try await client.call(.get, "/v1/events?kind=webhook_enabled", token: f.tokens[.audit])
                #expect((enabledEvents.json["events"] as? [Any])?.count == 1)
            }
        }
    }

    @Test("410 Gone disables at once (reason gone)")
    func gone() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver(statuses: [410])
        try await receiver.run { url in
            try await f.app(configuration: Self.configuration(f)).test(.router) { client in
                let id = try #require(
                    try await Self.add(client, f, url: url, secret: IndependentSignatureCheck.newSecret()).json["id"] as? String)
                _ = try await ChangesRouteTests.newUser(client, f, "wh-gone")
                let disabled = try await waitUntil(within: .seconds(30)) {
                    try await Self.webhook(client, f, id)["disabled_reason"] as? String == "gone"
                }
                #expect(disabled && receiver.requests.count == 1, "\(receiver.requests.map(\.status))")
            }
        }
    }

    @Test("only the endpoint's kinds are sent; the cursor still moves over the others")
    func kinds() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await f.app(configuration: Self.configuration(f)).test(.router) { client in
                let added = try await Self.add(
                    client, f, url: url, secret: IndependentSignatureCheck.newSecret(), kinds: ["user.merged"])
                let (id, start) = (added.json["id"] as? String ?? "", added.json["cursor"] as? String ?? "")
                #expect(added.json["kinds"] as? [String] == ["user.merged"])
                let alice = try await ChangesRouteTests.newUser(client, f, "wh-k-alice")
                let bob = try await ChangesRouteTests.newUser(client, f, "wh-k-bob")
                _ = try await client.call(.post, "/v1/users/\(bob)/merge", token: f.tokens[.merge], json: #"{"from":"\#(alice)"}"#)
                _ = try await ChangesRouteTests.newUser(client, f, "wh-k-carol")
                let feed = try await Self.feed(client, f, after: start)
                let arrived = try await waitUntil(within: .seconds(30)) {
                    try await Self.webhook(client, f, id)["cursor"] as? String == feed.last?["cursor"] as? String
                }
                #expect(arrived)
                #expect(Self.canonical(receiver.acceptedChanges) == Self.canonical(feed.filter { $0["kind"] as? String == "user.merged" }))
            }
        }
    }

    @Test("a host name that resolves to a loopback address is never connected to without allow_private (checked after DNS)")
    func resolvedAddressIsChecked() async throws {
        // A name other than localhost that this machine's hosts file maps to a loopback address: it
        // passes the URL check, as a public name rebound to 127.0.0.1 would.
        let hosts = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? ""
        let name = hosts.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0].hasPrefix("127.") else { return nil }
            return fields.dropFirst().map(String.init).first { !$0.hasPrefix("#") && $0 != "localhost" && !$0.hasSuffix(".localhost") }
        }.first
        let host = try #require(name, "this test needs a name other than localhost for 127.x in /etc/hosts")
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            let port = try #require(URL(string: url)?.port)
            try await f.app(configuration: Self.configuration(f)).test(.router) { client in
                let added = try await Self.add(
                    client, f, url: "https://\(host):\(port)/hook", secret: IndependentSignatureCheck.newSecret(), allowPrivate: false)
                let id = try #require(added.json["id"] as? String)
                _ = try await ChangesRouteTests.newUser(client, f, "wh-rebound")
                let refused = try await waitUntil(within: .seconds(30)) {
                    try await Self.webhook(client, f, id)["last_error_code"] as? String == "address_not_allowed"
                }
                #expect(refused)
                #expect(receiver.requests.isEmpty)
            }
        }
    }
}

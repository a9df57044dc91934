import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import TestSupport
import Testing

/// Deliveries survive their server: a server stopped mid-stream leaves the cursor where the last
/// answered message ended, and the next server continues from there (docs/OPERATIONS.md,
/// Webhooks). A `kill -9` is `Tests/CLITests/WebhookCLITests.swift`'s, with the real binary.
@Suite("Webhook deliveries across a restart", .timeLimit(.minutes(4)))
struct WebhookRestartTests {
    @Test("a server stopped mid-stream, another started: every change arrives, in order, none skipped; a repeat carries its first id")
    func restart() async throws {
        let f = try await APIFixture.make()
        let receiver = WebhookReceiver(delay: .milliseconds(300))
        let secret = IndependentSignatureCheck.newSecret()
        let configuration = WebhookDeliveryTests.configuration(f, batch: 2)
        try await receiver.run { url in
            let start = try await f.app(configuration: configuration).test(.router) { client -> String in
                let added = try await WebhookDeliveryTests.add(client, f, url: url, secret: secret)
                for n in 0..<20 { _ = try await ChangesRouteTests.newUser(client, f, "wh-r-\(n)") }
                let started = try await waitUntil(within: .seconds(30)) { receiver.accepted.count >= 2 }
                try #require(started)
                return try #require(added.json["cursor"] as? String)
            }
            // The first server has stopped (its worker finished the request in flight, then let go).
            let before = WebhookDeliveryTests.firstSeen(receiver.acceptedChanges).count
            #expect(before < 20, "the first server was stopped mid-stream (\(before) of 20 delivered)")
            try await f.app(configuration: configuration).test(.router) { client in
                for n in 20..<24 { _ = try await ChangesRouteTests.newUser(client, f, "wh-r-\(n)") }
                let feed = try await WebhookDeliveryTests.feed(client, f, after: start)
                try #require(feed.count == 24)
                let all = try await waitUntil(within: .seconds(90)) {
                    WebhookDeliveryTests.firstSeen(receiver.acceptedChanges).count >= feed.count
                }
                try #require(all, "\(WebhookDeliveryTests.firstSeen(receiver.acceptedChanges).count) of \(feed.count) arrived")
                let kept = WebhookDeliveryTests.firstSeen(receiver.acceptedChanges)
                #expect(WebhookDeliveryTests.canonical(kept) == WebhookDeliveryTests.canonical(feed), "in order, no gap")
                var firstID: [String: String] = [:]
                for request in receiver.accepted {
                    for change in request.changes {
                        let cursor = change["cursor"] as? String ?? ""
                        if let known = firstID[cursor] {
                            #expect(known == request.id, "a change sent again comes under its first message's id")
                        } else {
                            firstID[cursor] = request.id
                        }
                    }
                }
                let verdicts = try IndependentSignatureCheck.verify(receiver.requests, secret: secret)
                #expect(!verdicts.isEmpty && !verdicts.contains(false))
            }
        }
    }
}

import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import TestSupport
import Testing

/// `/v1/webhooks` (scope `admin`): add, list, remove, enable, disable, and what is refused.
@Suite("Webhook routes", .timeLimit(.minutes(3)))
struct WebhookRouteTests {
    static func body(url: String, secret: String, allowPrivate: Bool? = nil) -> String {
        var body: [String: Any] = ["url": url, "secret": secret]
        if let allowPrivate { body["allow_private"] = allowPrivate }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: body)) ?? Data(), as: UTF8.self)
    }

    @Test("URLs that are not https or that name a loopback, private or link-local address are refused without allow_private")
    func urlRefusals() async throws {
        let f = try await APIFixture.make()
        let secret = IndependentSignatureCheck.newSecret()
        try await f.app().test(.router) { client in
            let notAllowed = [
                "http://hooks.example.com/in", "https://127.0.0.1/in", "https://127.8.9.10:8443/in", "https://10.1.2.3/in",
                "https://172.20.0.1/in", "https://192.168.1.1/in", "https://100.64.0.1/in", "https://169.254.169.254/latest/meta-data",
                "https://0.0.0.0/", "https://[::1]/in", "https://[fe80::1]/in", "https://[fd00::1]/in", "https://[::ffff:127.0.0.1]/in",
                "https://localhost/in", "https://api.localhost:8443/in",
            ]
            for url in notAllowed {
                let reply = try await client.call(.post, "/v1/webhooks", token: f.tokens[.admin], json: Self.body(url: url, secret: secret))
                #expect(reply.status == 422 && reply.code == "webhook_url_not_allowed" && reply.isProblem, "\(url): \(reply)")
                #expect(!reply.text.contains(String(secret.dropFirst(6))))
            }
            let malformed = [
                "ftp://hooks.example.com/in", "hooks.example.com/in", "https://", "https://hooks example.com/", "https://0x7f000001/",
                "https://127.1/", "https://2130706433/", "https://hooks.example.com/in#frag", "https://[::1%25eth0]/",
                "https://a@b@hooks.example.com/", "https://hooks.example.com:99999/", "https://hooks.example.com\\@127.0.0.1/",
            ]
            for url in malformed {
                let reply = try await client.call(.post, "/v1/webhooks", token: f.tokens[.admin], json: Self.body(url: url, secret: secret))
                #expect(reply.status == 400 && reply.code == "invalid_webhook_url", "\(url): \(reply)")
            }
            // With allow_private, a receiver on this network is fine, over http too.
            for url in ["http://127.0.0.1:9/in", "https://10.1.2.3/in", "http://[::1]:9/in"] {
                let reply = try await client.call(
                    .post, "/v1/webhooks", token: f.tokens[.admin], json: Self.body(url: url, secret: secret, allowPrivate: true))
                #expect(reply.status == 201, "\(url): \(reply)")
                let id = reply.json["id"] as? String ?? ""
                #expect(try await client.call(.post, "/v1/webhooks/\(id)/disable", token: f.tokens[.admin]).status == 200)
            }
            #expect(
                try await client.call(
                    .post, "/v1/webhooks", token: f.tokens[.admin], json: Self.body(url: "https://hooks.example.com/in", secret: secret)
                ).status == 201)
        }
    }

    @Test("only a Standard Webhooks secret is taken (whsec_ + base64 of 24 to 64 bytes), and a refusal never repeats it")
    func secretRefusals() async throws {
        let f = try await APIFixture.make()
        try await f.app().test(.router) { client in
            let bad = [
                IndependentSignatureCheck.newSecret(bytes: 16), IndependentSignatureCheck.newSecret(bytes: 65),
                String(IndependentSignatureCheck.newSecret().dropFirst(6)), "whsec_" + String(repeating: "A", count: 43),
                "whsec_not base64 at all!!", "whsec_", "WHSEC_" + String(IndependentSignatureCheck.newSecret().dropFirst(6)),
                IndependentSignatureCheck.newSecret().replacingOccurrences(of: "=", with: ""),
            ]
            for secret in bad {
                let reply = try await client.call(
                    .post, "/v1/webhooks", token: f.tokens[.admin], json: Self.body(url: "https://hooks.example.com/in", secret: secret))
                #expect(reply.status == 400 && reply.code == "invalid_webhook_secret", "\(reply)")
                #expect(secret.count < 12 || !reply.text.contains(secret), "\(reply)")
            }
            for bytes in [24, 64] {
                let reply = try await client.call(
                    .post, "/v1/webhooks", token: f.tokens[.admin],
                    json: Self.body(url: "https://hooks.example.com/in", secret: IndependentSignatureCheck.newSecret(bytes: bytes)))
                #expect(reply.status == 201, "\(bytes) bytes: \(reply)")
            }
            let secret = IndependentSignatureCheck.newSecret()
            let unknownKind = try await client.call(
                .post, "/v1/webhooks", token: f.tokens[.admin],
                json: #"{"url":"https://hooks.example.com/in","secret":"\#(secret)","kinds":["user.created"]}"#)
            #expect(unknownKind.status == 400 && unknownKind.code == "invalid_request", "\(unknownKind)")
        }
    }

    @Test("list hides credentials, query and secret; disable, enable and remove are events; unknown ids are 404")
    func lifecycle() async throws {
        let f = try await APIFixture.make()
        let secret = IndependentSignatureCheck.newSecret()
        try await f.app().test(.router) { client in
            let admin = f.tokens[.admin]
            let body: [String: Any] = [
                "url": "https://bob:hunter2@hooks.example.com/in?token=abc123", "secret": secret,
                "kinds": ["user.merged", "identity.linked"], "description": "billing sync",
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let added = try await client.call(.post, "/v1/webhooks", token: admin, json: json)
            try #require(added.status == 201, "\(added)")
            let id = try #require(added.json["id"] as? String)
            #expect(added.json["url"] as? String == "https://***@hooks.example.com/***#3035722f")
            #expect(added.json["kinds"] as? [String] == ["identity.linked", "user.merged"])
            #expect(added.json["state"] as? String == "enabled" && added.json["description"] as? String == "billing sync")
            #expect(added.json["allow_private"] as? Bool == false && added.json["pending"] as? Bool == false)
            #expect(added.headers[.contentType] == "application/json")

            let disabled = try await client.call(.post, "/v1/webhooks/\(id)/disable", token: admin)
            #expect(disabled.json["state"] as? String == "disabled" && disabled.json["disabled_reason"] as? String == "operator")
            let again = try await client.call(.post, "/v1/webhooks/\(id)/disable", token: admin)
            #expect(again.status == 200, "disabling twice answers the endpoint as it is")
            let enabled = try await client.call(.post, "/v1/webhooks/\(id)/enable", token: admin, json: #"{"from_end":true}"#)
            #expect(enabled.status == 200 && enabled.json["state"] as? String == "enabled", "\(enabled)")
            let moving = try await client.call(.post, "/v1/webhooks/\(id)/enable", token: admin, json: #"{"from_end":true}"#)
            #expect(moving.status == 409 && moving.code == "webhook_enabled", "\(moving)")
            let removed = try await client.call(.delete, "/v1/webhooks/\(id)", token: admin)
            #expect(removed.status == 200 && removed.json["id"] as? String == id)
            let list = try await client.call(.get, "/v1/webhooks", token: admin)
            #expect((list.json["webhooks"] as? [Any])?.isEmpty == true, "\(list)")

            let unknown = "01a21996-0000-7000-8000-00000000abcd"
            for (method, path) in [
                (HTTPRequest.Method.delete, "/v1/webhooks/\(unknown)"), (.post, "/v1/webhooks/\(unknown)/enable"),
                (.post, "/v1/webhooks/\(unknown)/disable"),
            ] {
                let reply = try await client.call(method, path, token: admin)
                #expect(reply.status == 404 && reply.code == "not_found", "\(path): \(reply)")
            }
            #expect(try await client.call(.delete, "/v1/webhooks/not-a-uuid", token: admin).code == "invalid_request")

            let events = try await client.call(.get, "/v1/events?kind=webhook_added", token: f.tokens[.audit])
            var kinds: [String] = []
            for kind in ["webhook_added", "webhook_disabled", "webhook_enabled", "webhook_removed"] {
                let page = try await client.call(.get, "/v1/events?kind=\(kind)", token: f.tokens[.audit])
                kinds += (page.json["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
                for secretPart in [String(secret.dropFirst(6)), "hunter2", "abc123"] {
                    #expect(!page.text.contains(secretPart), "\(kind): \(page.text)")
                }
            }
            #expect(kinds == ["webhook_added", "webhook_disabled", "webhook_enabled", "webhook_removed"])
            let details = (events.json["events"] as? [[String: Any]])?.first?["details"] as? [String: Any] ?? [:]
            #expect(details["url"] as? String == "https://***@hooks.example.com/***#3035722f" && details["webhook"] as? String == id)
            #expect(details["secret_fingerprint"] as? String == (added.json["secret_fingerprint"] as? String))
        }
    }
}

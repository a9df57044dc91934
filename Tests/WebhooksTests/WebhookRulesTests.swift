import ChangeFeed
import Curl
import Foundation
import Testing

@testable import Webhooks

/// The pure rules of webhooks, without a database: URLs, addresses, secrets, backoff, outcomes, ids.
@Suite("Webhook rules", .timeLimit(.minutes(1)))
struct WebhookRulesTests {
    static func refusal(_ text: String) -> String? {
        AddressRule.refusal(AddressRule.parseIPv4(text) ?? AddressRule.parseIPv6(text) ?? [])
    }

    @Test("addresses: loopback, private, link-local (metadata), CGNAT, ULA and the IPv4 inside IPv6 forms are refused; public ones pass")
    func addresses() {
        for refused in [
            "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1",
            "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1", "::", "::1",
            "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:0a00:0001::1", "::127.0.0.1", "2001:db8::1", "fec0::1",
        ] {
            #expect(Self.refusal(refused) != nil, "\(refused)")
        }
        for allowed in [
            "1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "192.169.0.1", "169.253.1.1",
            "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::1",
        ] {
            #expect(Self.refusal(allowed) == nil, "\(allowed): \(Self.refusal(allowed) ?? "")")
        }
    }

    @Test("address literals: only dotted quads and RFC 4291 IPv6 are read")
    func literals() {
        #expect(AddressRule.parseIPv4("192.168.1.20") == [192, 168, 1, 20])
        for odd in ["127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "1.2.3.256", "1.2.3.4.5", "01.2.3.4", "1..2.3", ""] {
            #expect(AddressRule.parseIPv4(odd) == nil, "\(odd)")
        }
        #expect(AddressRule.parseIPv6("::1") == [UInt8](repeating: 0, count: 15) + [1])
        let documentation: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a]
        #expect(AddressRule.parseIPv6("2001:db8::8:800:200c:417a") == documentation)
        #expect(AddressRule.parseIPv6("::ffff:1.2.3.4") == [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 1, 2, 3, 4])
        for odd in [":::", "1::2::3", "12345::", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3", "g::1", ":1::"] {
            #expect(AddressRule.parseIPv6(odd) == nil, "\(odd)")
        }
    }

    @Test("URLs: https to a public name or address; http, private literals and localhost only with allowPrivate; odd spellings refused")
    func urls() throws {
        let url = try WebhookURL(parsing: "https://user:pw@Hooks.Example.com:8443/a/b?token=x", allowPrivate: false)
        #expect(url.host == "hooks.example.com" && url.port == 8443 && url.scheme == "https" && url.hasCredentials)
        #expect(url.redacted == "https://***@Hooks.Example.com:8443/***#13099c1d")
        #expect(try WebhookURL(parsing: "https://hooks.example.com", allowPrivate: false).redacted == "https://hooks.example.com")
        #expect(try WebhookURL(parsing: "https://[2606:4700::1]:443/x", allowPrivate: false).literalAddress?.count == 16)
        for (text, expected) in [
            ("http://hooks.example.com/", "not allowed"), ("https://127.0.0.1/", "not allowed"), ("https://[::1]/", "not allowed"),
            ("https://localhost:9/", "not allowed"), ("https://x.localhost/", "not allowed"), ("https://169.254.169.254/", "not allowed"),
            ("https://0x7f000001/", "invalid"), ("https://127.1/", "invalid"), ("ftp://x.example/", "invalid"),
            ("https://a b/", "invalid"), ("https://x.example/#f", "invalid"), ("https://x.example:0/", "invalid"),
            ("https://-x.example/", "invalid"), ("https://x.example\\@10.0.0.1/", "invalid"), ("https://[::1/", "invalid"),
            ("https://exämple.com/", "invalid"),
        ] {
            do throws(WebhookError) {
                _ = try WebhookURL(parsing: text, allowPrivate: false)
                Issue.record("\(text) was accepted")
            } catch {
                switch error {
                case .urlNotAllowed: #expect(expected == "not allowed", "\(text): \(error)")
                case .invalidURL: #expect(expected == "invalid", "\(text): \(error)")
                default: Issue.record("\(text): \(error)")
                }
            }
        }
        for text in ["http://127.0.0.1:8080/hook", "https://10.0.0.1/", "http://localhost/", "http://[::1]:9/"] {
            #expect(throws: Never.self) { try WebhookURL(parsing: text, allowPrivate: true) }
        }
    }

    @Test("secrets: whsec_ + canonical base64 of 24 to 64 bytes; never shown; fingerprint is the SHA-256's first 8 hex digits")
    func secrets() throws {
        let key = [UInt8](repeating: 7, count: 32)
        let text = "whsec_" + Data(key).base64EncodedString()
        let secret = try WebhookSecret(parsing: "  " + text + "\n")
        #expect(secret.key == key && secret.text == text)
        #expect(!"\(secret)".contains(Data(key).base64EncodedString()) && !String(reflecting: secret).contains("BwcH"))
        #expect(secret.fingerprint.count == 8 && secret.fingerprint.allSatisfy(\.isHexDigit))
        for bad in [
            "whsec_" + Data(repeating: 1, count: 23).base64EncodedString(), "whsec_" + Data(repeating: 1, count: 65).base64EncodedString(),
            Data(key).base64EncodedString(), "whsec_" + String(Data(key).base64EncodedString().dropLast()), "whsec_AAAA AAAA",
            "whsec_" + Data(repeating: 0xFB, count: 32).base64EncodedString().replacingOccurrences(of: "+", with: "-"), "",
        ] {
            #expect(throws: WebhookError.invalidSecret, "\(bad)") { try WebhookSecret(parsing: bad) }
        }
    }

    @Test("signatures: v1, + base64 of an HMAC-SHA-256 that changes with the id, the timestamp and the body (Python checks the bytes)")
    func signatures() throws {
        let secret = try WebhookSecret(parsing: "whsec_" + Data(repeating: 0x0b, count: 24).base64EncodedString())
        let signer = WebhookSigner(secret: secret)
        let body = Array(#"{"a":1}"#.utf8)
        let signature = signer.signature(messageID: "msg_1", timestamp: 1_700_000_000, body: body)
        #expect(signature.hasPrefix("v1,") && signature.count == 3 + 44)
        #expect(signature == signer.signature(messageID: "msg_1", timestamp: 1_700_000_000, body: body))
        #expect(signature != signer.signature(messageID: "msg_2", timestamp: 1_700_000_000, body: body))
        #expect(signature != signer.signature(messageID: "msg_1", timestamp: 1_700_000_001, body: body))
        let headers = Dictionary(uniqueKeysWithValues: signer.headers(messageID: "msg_1", timestamp: 1_700_000_000, body: body))
        #expect(headers["webhook-id"] == "msg_1" && headers["webhook-timestamp"] == "1700000000")
        #expect(headers["webhook-signature"] == signature)
        #expect(headers["Content-Type"] == "application/json")
    }

    @Test("backoff doubles from the base to the cap, drawn between half and all of it")
    func backoff() {
        let backoff = RetryBackoff(base: .seconds(5), cap: .seconds(3_600))
        #expect(backoff.delay(afterFailures: 1, unit: 1) == .seconds(5))
        #expect(backoff.delay(afterFailures: 1, unit: 0) == .seconds(2.5))
        #expect(backoff.delay(afterFailures: 2, unit: 1) == .seconds(10))
        #expect(backoff.delay(afterFailures: 5, unit: 1) == .seconds(80))
        #expect(backoff.delay(afterFailures: 12, unit: 1) == .seconds(3_600))
        #expect(backoff.delay(afterFailures: 10_000, unit: 1) == .seconds(3_600))
        for failures in 1...20 {
            let delay = backoff.delay(afterFailures: failures)
            #expect(delay >= .seconds(2.5) && delay <= .seconds(3_600))
        }
    }

    @Test("the lease outlasts an attempt begun a third into it: at least 2 × the timeout + 3 s, a shorter one raised to that")
    func leaseRule() {
        #expect(WebhookSettings.minimumLease(timeout: .seconds(10)) == .seconds(23))
        #expect(WebhookSettings.minimumLease(timeout: .seconds(1)) == .seconds(5))
        // The defaults keep the rule.
        let defaults = WebhookSettings()
        #expect(defaults.lease == .seconds(30) && defaults.lease >= WebhookSettings.minimumLease(timeout: defaults.timeout))
        for timeout in [Duration.milliseconds(200), .seconds(1), .seconds(10), .seconds(60)] {
            let lease = WebhookSettings.minimumLease(timeout: timeout)
            // Two thirds of the lease hold the attempt (timeout + 1 s of the client's grace) and a second to write its outcome.
            #expect(lease * 2 / 3 >= timeout + .seconds(2), "\(timeout)")
            #expect(WebhookSettings(timeout: timeout, lease: .seconds(3)).lease == lease)
            #expect(WebhookSettings(timeout: timeout, lease: lease + .seconds(1)).lease == lease + .seconds(1))
        }
    }

    @Test("outcomes: 2xx delivers, 410 is gone, other statuses and transfer errors are failures with a stable code")
    func outcomes() {
        #expect(DeliveryOutcome(status: 200).isDelivered && DeliveryOutcome(status: 204).isDelivered)
        #expect(DeliveryOutcome(status: 410) == .gone && DeliveryOutcome(status: 410).errorCode == "http_410")
        #expect(DeliveryOutcome(status: 301).errorCode == "http_301" && DeliveryOutcome(status: 503).metricLabel == "http_error")
        #expect(DeliveryOutcome(error: CurlError(kind: .addressRefused, code: 7, message: "x")).errorCode == "address_not_allowed")
        #expect(DeliveryOutcome(error: CurlError(kind: .timeout, code: 28, message: "x")).errorCode == "timeout")
        #expect(DeliveryOutcome(error: CurlError(kind: .responseTooLarge(limit: 1), code: 23, message: "x")).errorCode == "transport_error")
        #expect(Set(DeliveryOutcome.metricLabels).count == DeliveryOutcome.metricLabels.count)
    }

    @Test("a message's id depends on its endpoint and its last cursor only, check included")
    func messageIDs() {
        let endpoint = UUID(uuidString: "01a21996-0000-7000-8000-000000000001")!
        let next = FeedCursor(position: 42, check: 7)
        let id = WebhookWorker.messageID(endpoint: endpoint, next: next)
        #expect(id == "msg_01a21996000070008000000000000001_" + next.text)
        #expect(id != WebhookWorker.messageID(endpoint: endpoint, next: FeedCursor(position: 43, check: 7)))
        // The same position holding another change after a failover: another message.
        #expect(id != WebhookWorker.messageID(endpoint: endpoint, next: FeedCursor(position: 42, check: 8)))
        #expect(id != WebhookWorker.messageID(endpoint: UUID(), next: next))
    }

    @Test("kinds: names of change kinds, each once, sorted; an unknown one is refused")
    func kinds() throws {
        #expect(try Webhook.kinds(["user.merged", " identity.linked", "user.merged", ""]) == [.identityLinked, .userMerged])
        #expect(try Webhook.kinds([]) == [])
        #expect(throws: WebhookError.self) { try Webhook.kinds(["identity.created"]) }
    }
}

import Curl
import Foundation
import Support
import Testing

/// `CurlRequest.responseBodyLimit`: `.fail(above:)` stops reading once the body passes the bound
/// and throws `responseTooLarge` with no body; `.truncate(at:)` keeps the head and the status.
@Suite("libcurl response body limit", .timeLimit(.minutes(2)))
struct CurlResponseLimitTests {
    static let limit = 64 * 1024

    @Test("a body past .fail(above:) stops the transfer at once, even one that never ends: responseTooLarge, no body; the handle works on")
    func failAbove() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            let client = CurlClient(maxConcurrentTransfers: 1)
            let start = ContinuousClock.now
            // Endless: a client that kept reading would run into the 20 s timeout (or out of
            // memory) instead of answering responseTooLarge within seconds.
            let error = await #expect(throws: CurlError.self) {
                try await client.send(
                    CurlRequest(method: "GET", url: base + "/endless", timeout: .seconds(20), responseBodyLimit: .fail(above: Self.limit)))
            }
            #expect(error?.kind == .responseTooLarge(limit: Self.limit), "\(String(describing: error))")
            #expect((ContinuousClock.now - start).seconds < 5)
            // The error names the limit, never a byte of the body.
            #expect(error?.message.contains("65536") == true)
            #expect(error?.description.contains("aaaa") == false)
            // The transfer ended: the connection closed, so the endless body stops being written
            // (a client that read on would keep it flowing until the 20 s timeout). How far the
            // server got before it noticed depends on the machine's load, not on the client.
            var settled = false
            for _ in 0..<50 where !settled {
                let before = server.endlessBytesSent
                try await Task.sleep(for: .milliseconds(200))
                settled = server.endlessBytesSent == before
            }
            #expect(settled, "the server was still writing \(server.endlessBytesSent) bytes in")
            // libcurl dropped that connection; the handle opens another.
            let next = try await client.send(CurlRequest(method: "GET", url: base + "/hello", responseBodyLimit: .fail(above: Self.limit)))
            #expect(next.status == 200 && String(decoding: next.body, as: UTF8.self) == "hello, curl")
        }
    }

    @Test("a body of exactly the .fail(above:) bound is taken whole; one byte more is refused")
    func failAtBound() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            let client = CurlClient()
            let exact = try await client.send(
                CurlRequest(method: "GET", url: base + "/bytes/\(Self.limit)", responseBodyLimit: .fail(above: Self.limit)))
            #expect(exact.status == 200 && exact.body == [UInt8](repeating: UInt8(ascii: "a"), count: Self.limit))
            let over = await #expect(throws: CurlError.self) {
                try await client.send(
                    CurlRequest(method: "GET", url: base + "/bytes/\(Self.limit + 1)", responseBodyLimit: .fail(above: Self.limit)))
            }
            #expect(over?.kind == .responseTooLarge(limit: Self.limit), "\(String(describing: over))")
            // Without a limit the same answer is taken whole.
            let unbounded = try await client.send(CurlRequest(method: "GET", url: base + "/bytes/\(Self.limit + 1)"))
            #expect(unbounded.body.count == Self.limit + 1)
        }
    }

    @Test(".truncate(at:) keeps that much of the body and still answers the status")
    func truncate() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            let payload = [UInt8](repeating: 0x61, count: 10_000)
            let request = CurlRequest(
                method: "POST", url: base + "/echo", body: payload, connectFilter: { _ in true }, responseBodyLimit: .truncate(at: 100))
            let response = try await CurlClient().send(request)
            #expect(response.status == 201 && response.body == Array(payload.prefix(100)))
        }
    }
}

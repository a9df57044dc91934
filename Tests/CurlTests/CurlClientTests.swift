import Curl
import Foundation
import Support
import Testing

@Suite("libcurl client against a loopback server", .timeLimit(.minutes(3)))
struct CurlClientTests {
    @Test("GET: status, response headers (lower-cased names) and body; request headers arrive")
    func get() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            let client = CurlClient()
            let response = try await client.send(CurlRequest(method: "GET", url: base + "/hello", headers: [("X-Probe", "p-1")]))
            #expect(response.status == 200)
            #expect(response.header("X-Reply") == "hello")
            #expect(response.header("x-probe-echo") == "p-1")
            #expect(response.headers.contains { $0.0 == "content-type" && $0.1 == "text/plain" })
            #expect(String(decoding: response.body, as: UTF8.self) == "hello, curl")
            // The handle is reused for the next transfer.
            let again = try await client.send(CurlRequest(method: "GET", url: base + "/hello"))
            #expect(again.status == 200 && again.header("x-probe-echo") == nil)
        }
        #expect(server.count(path: "/hello") == 2)
    }

    @Test("POST: the body goes out byte for byte and comes back with the status the server chose")
    func post() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            let client = CurlClient()
            let payload = Array(#"{"name":"stableid","bytes":"\u0000é/"}"#.utf8) + [0x00, 0xff]
            let response = try await client.send(
                CurlRequest(method: "POST", url: base + "/echo", headers: [("Content-Type", "application/json")], body: payload)
            )
            #expect(response.status == 201)
            #expect(response.header("content-type") == "application/json")
            #expect(response.body == payload)
            // An empty POST is still a POST with Content-Length 0.
            let empty = try await client.send(CurlRequest(method: "POST", url: base + "/echo"))
            #expect(empty.status == 201 && empty.body.isEmpty)
        }
    }

    @Test("a server slower than the request timeout gives CurlError.timeout, promptly")
    func timeout() async throws {
        let server = LoopbackServer(slowDelay: .seconds(2))
        try await server.run { base in
            let client = CurlClient()
            let start = ContinuousClock.now
            let error = await #expect(throws: CurlError.self) {
                try await client.send(CurlRequest(method: "GET", url: base + "/slow", timeout: .milliseconds(300)))
            }
            #expect(error?.kind == .timeout)
            #expect((ContinuousClock.now - start).seconds < 2)
        }
    }

    @Test("a caller waiting for a busy handle returns at once when cancelled; the transfer holding it is unaffected")
    func cancelWhileWaiting() async throws {
        let server = LoopbackServer(slowDelay: .seconds(2))
        try await server.run { base in
            let client = CurlClient(maxConcurrentTransfers: 1)
            let holder = Task { try await client.send(CurlRequest(method: "GET", url: base + "/slow", timeout: .seconds(10))) }
            // The only handle is taken once the server has seen the slow request.
            while server.count(path: "/slow") == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let start = ContinuousClock.now
            let waiter = Task { try await client.send(CurlRequest(method: "GET", url: base + "/hello", timeout: .seconds(10))) }
            try await Task.sleep(for: .milliseconds(100))
            waiter.cancel()
            let result = await waiter.result
            #expect((ContinuousClock.now - start).seconds < 1.5)
            #expect(throws: CurlError.self) { try result.get() }
            if case .failure(let error as CurlError) = result { #expect(error.kind == .cancelled) }
            #expect(server.count(path: "/hello") == 0)
            let held = try await holder.value
            #expect(held.status == 200 && String(decoding: held.body, as: UTF8.self) == "finally")
            // The handle is free again afterwards.
            let after = try await client.send(CurlRequest(method: "GET", url: base + "/hello"))
            #expect(after.status == 200)
        }
    }

    @Test("waiting for a busy handle counts against the request timeout")
    func timeoutWhileWaiting() async throws {
        let server = LoopbackServer(slowDelay: .seconds(2))
        try await server.run { base in
            let client = CurlClient(maxConcurrentTransfers: 1)
            let holder = Task { try await client.send(CurlRequest(method: "GET", url: base + "/slow", timeout: .seconds(10))) }
            while server.count(path: "/slow") == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let start = ContinuousClock.now
            let error = await #expect(throws: CurlError.self) {
                try await client.send(CurlRequest(method: "GET", url: base + "/hello", timeout: .milliseconds(200)))
            }
            #expect(error?.kind == .timeout)
            #expect((ContinuousClock.now - start).seconds < 1.5)
            _ = try await holder.value
        }
    }

    @Test("a closed port gives CurlError.connect")
    func connectionRefused() async throws {
        // The server's port, after it has stopped listening: nothing answers there.
        let server = LoopbackServer()
        let base = try await server.run { base in base }
        let error = await #expect(throws: CurlError.self) {
            try await CurlClient().send(CurlRequest(method: "GET", url: base + "/hello", timeout: .seconds(5)))
        }
        #expect(error?.kind == .connect)
    }
}

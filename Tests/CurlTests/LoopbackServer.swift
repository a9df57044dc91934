import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A Hummingbird server on 127.0.0.1 with the few routes the libcurl tests need, so transfers go
/// through a real socket and a real HTTP parser without leaving the machine.
///
/// - `GET /hello`: 200, `X-Reply: hello`, the request's `X-Probe` echoed as `X-Probe-Echo`.
/// - `POST /echo`: 201 with the request's body and content type.
/// - `GET /slow`: 200 after `slowDelay`.
/// - `GET /bytes/<n>`: 200 with a body of exactly n bytes (`a`), with its Content-Length.
/// - `GET /endless`: 200 with a chunked body of `a`s that goes on until the client goes away (or,
///   bounded, after `endlessCap` bytes or 30 seconds); ``endlessBytesSent`` counts what was written.
final class LoopbackServer: Sendable {
    static let probeHeader = HTTPField.Name("X-Probe")!
    static let probeEchoHeader = HTTPField.Name("X-Probe-Echo")!
    static let replyHeader = HTTPField.Name("X-Reply")!

    static let endlessCap = 1 << 30
    let slowDelay: Duration
    private let paths = Mutex<[String]>([])
    private let endlessSent = Atomic<Int>(0)

    init(slowDelay: Duration = .seconds(2)) {
        self.slowDelay = slowDelay
    }

    /// How many requests for `path` have arrived so far.
    func count(path: String) -> Int { paths.withLock { $0.filter { $0 == path }.count } }

    /// The bytes of `/endless` bodies handed to the connection so far.
    var endlessBytesSent: Int { endlessSent.load(ordering: .relaxed) }

    /// Runs `body` while the server listens; passes its base URL (`http://127.0.0.1:<port>`).
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("hello") { request, _ -> Response in
            self.record(request)
            var headers: HTTPFields = [.contentType: "text/plain", Self.replyHeader: "hello"]
            if let probe = request.headers[Self.probeHeader] { headers[Self.probeEchoHeader] = probe }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "hello, curl")))
        }
        router.post("echo") { request, _ -> Response in
            self.record(request)
            let body = try await request.body.collect(upTo: 1 << 20)
            let headers: HTTPFields = [.contentType: request.headers[.contentType] ?? "application/octet-stream"]
            return Response(status: .created, headers: headers, body: .init(byteBuffer: body))
        }
        router.get("slow") { request, _ -> Response in
            self.record(request)
            try await Task.sleep(for: self.slowDelay)
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "finally")))
        }
        router.get("bytes/:count") { request, context -> Response in
            self.record(request)
            let count = try context.parameters.require("count", as: Int.self)
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "a"), count: count)))
        }
        router.get("endless") { request, _ -> Response in
            self.record(request)
            let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 16 * 1024)
            let body = ResponseBody { writer in
                // Bounded in bytes and time, in case a client does read it all; a write to a
                // client that went away throws, which ends the loop.
                let end = ContinuousClock.now + .seconds(30)
                while self.endlessBytesSent < Self.endlessCap, ContinuousClock.now < end {
                    try await writer.write(chunk)
                    self.endlessSent.add(chunk.readableBytes, ordering: .relaxed)
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    private func record(_ request: Request) {
        paths.withLock { $0.append(request.uri.path) }
    }
}

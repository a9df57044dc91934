import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A local HTTP endpoint of the tests that answers from a script: fault injection (throttling,
/// 5xx, slow answers) and fake credential endpoints, on 127.0.0.1 only.
final class ScriptedServer: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponse.Status
        var body: String
        var delay: Duration = .zero
    }

    /// Replies by path; the last one repeats when the script runs out. Header names are lower-cased.
    let script: Mutex<[String: [Reply]]>
    let requests = Mutex<[(method: String, path: String, headers: [String: String])]>([])

    init(_ script: [String: [Reply]]) {
        self.script = Mutex(script)
    }

    func count(path: String) -> Int { requests.withLock { $0.filter { $0.path == path }.count } }

    /// Runs `body` with the server listening; passes its base URL.
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let path = request.uri.path
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            self.requests.withLock { $0.append((request.method.rawValue, path, headers)) }
            let reply: Reply? = self.script.withLock { script in
                guard var replies = script[path], let first = replies.first else { return nil }
                if replies.count > 1 { replies.removeFirst() }
                script[path] = replies
                return first
            }
            guard let reply else { return Response(status: .notFound) }
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            return Response(
                status: reply.status, headers: [.contentType: "application/x-amz-json-1.1"],
                body: .init(byteBuffer: ByteBuffer(string: reply.body)))
        }
        router.on("**", method: .post, use: handler)
        router.on("**", method: .get, use: handler)
        router.on("**", method: .put, use: handler)
        router.on("/", method: .post, use: handler)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A local key endpoint for token tests: answers GETs with the key set (JWKS) stored for the
/// path, 404 for any other path, and counts the requests per path — how many fetches the
/// service made. On 127.0.0.1 only; what `AWS_ENDPOINT_URL` names for the pools under test.
final class KeyServer: Sendable {
    private let sets: Mutex<[String: String]>
    private let hits = Mutex<[String: Int]>([:])

    init(_ sets: [String: String]) {
        self.sets = Mutex(sets)
    }

    func count(_ path: String) -> Int { hits.withLock { $0[path] ?? 0 } }

    func serve(_ body: String, at path: String) { sets.withLock { $0[path] = body } }

    /// Runs `body` while listening; passes the base URL (`http://127.0.0.1:<port>`).
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let path = request.uri.path
            self.hits.withLock { $0[path, default: 0] += 1 }
            guard let set = self.sets.withLock({ $0[path] }) else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: set)))
        }
        router.on("**", method: .get, use: handler)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }
}

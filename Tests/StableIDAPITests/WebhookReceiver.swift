import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A webhook receiver on 127.0.0.1 for the delivery tests: `POST /hook` records every request
/// (headers lower-cased, the body's exact bytes) and answers from a script of statuses — the last
/// one repeats — after an optional delay.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        /// What the receiver answered.
        var status: Int

        var id: String { headers["webhook-id"] ?? "" }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        /// The changes the body carries (`data.changes`).
        var changes: [[String: Any]] { (json["data"] as? [String: Any])?["changes"] as? [[String: Any]] ?? [] }
    }

    private let script: Mutex<[Int]>
    private let log = Mutex<[Received]>([])
    let delay: Duration

    init(statuses: [Int] = [200], delay: Duration = .zero) {
        script = Mutex(statuses)
        self.delay = delay
    }

    /// Every request so far, in arrival order.
    var requests: [Received] { log.withLock { $0 } }

    /// The requests answered 2xx.
    var accepted: [Received] { requests.filter { (200..<300).contains($0.status) } }

    /// The changes of the accepted requests, in order (duplicates included).
    var acceptedChanges: [[String: Any]] { accepted.flatMap(\.changes) }

    /// From now on, answer `statuses` (the last repeats).
    func answer(_ statuses: [Int]) {
        script.withLock { $0 = statuses }
    }

    /// Runs `body` while the receiver listens; passes the endpoint's URL (`http://127.0.0.1:<port>/hook`).
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 16 << 20)
            if self.delay > .zero { try await Task.sleep(for: self.delay) }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let status = self.script.withLock { script -> Int in
                let first = script.first ?? 200
                if script.count > 1 { script.removeFirst() }
                return first
            }
            self.log.withLock { $0.append(Received(headers: headers, body: Array(bytes.readableBytesView), status: status)) }
            return Response(status: HTTPResponse.Status(code: status))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}

/// Checks Standard Webhooks signatures with an implementation that shares nothing with the
/// service's: Python's `hmac`, `hashlib` and `base64`, over the exact headers and bytes received.
enum IndependentSignatureCheck {
    static let script = """
        import base64, hashlib, hmac, json, sys, time
        secret = open(sys.argv[1]).read().strip()
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
        results = []
        for item in json.load(open(sys.argv[2])):
            body = base64.b64decode(item["body"])
            signed = item["id"].encode() + b"." + item["timestamp"].encode() + b"." + body
            expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            versions = [part.split(",", 1) for part in item["signature"].split(" ")]
            good = any(v == "v1" and hmac.compare_digest(s, expected) for v, s in versions)
            fresh = abs(time.time() - int(item["timestamp"])) < 300
            results.append(good and fresh and item["content_type"].startswith("application/json"))
        print(json.dumps(results))
        """

    /// One verdict per request: signed with `secret` over what arrived, timestamp within 5 minutes,
    /// JSON content type.
    static func verify(_ requests: [WebhookReceiver.Received], secret: String) throws -> [Bool] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let items = requests.map { request -> [String: String] in
            [
                "id": request.id, "timestamp": request.headers["webhook-timestamp"] ?? "",
                "signature": request.headers["webhook-signature"] ?? "", "content_type": request.headers["content-type"] ?? "",
                "body": Data(request.body).base64EncodedString(),
            ]
        }
        try Data(secret.utf8).write(to: folder.appendingPathComponent("secret"))
        try JSONSerialization.data(withJSONObject: items).write(to: folder.appendingPathComponent("items.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", script, folder.appendingPathComponent("secret").path, folder.appendingPathComponent("items.json").path,
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try JSONSerialization.jsonObject(with: data)) as? [Bool] ?? []
    }

    /// The first 8 hex digits of the SHA-256 of `secret`, by Python too.
    static func fingerprint(_ secret: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:8])", secret]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A fresh Standard Webhooks secret of `bytes` random bytes.
    static func newSecret(bytes: Int = 32) -> String {
        "whsec_" + Data((0..<bytes).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }
}

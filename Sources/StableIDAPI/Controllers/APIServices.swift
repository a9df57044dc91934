import AuditTrail
import CryptoPrimitives
import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import NIOCore
import Support

/// Everything controllers share: reading bodies within the size limit, strict JSON decoding with
/// useful messages, JSON answers, and running writes with `Idempotency-Key` support.
struct APIServices: Sendable {
    let database: Database
    let identityMap: IdentityMapStore
    let pools: PoolStore
    let tokens: TokenStore
    let events: EventQuery
    let maxBodyBytes: Int
    let bodyTimeout: Duration

    static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!
    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!

    /// The whole body within the size limit and the time limit: a client that trickles its body
    /// (slowloris) gets 408 instead of holding a request slot open.
    func collectBody(_ request: Request) async throws -> ByteBuffer {
        let (limit, timeout) = (maxBodyBytes, bodyTimeout)
        do {
            return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await request.body.collect(upTo: limit) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else {
                    throw Problem(.requestTimeout, code: "request_timeout", title: "The request body did not arrive in time")
                }
                return body
            }
        } catch is NIOTooManyBytesError {
            throw Problem.payloadTooLarge
        }
    }

    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw Problem.invalidRequest("the request body is empty; send JSON") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.invalidRequest(Self.describe(error))
        }
    }

    /// A boolean query parameter: `true` or `false` only, absent means `default`.
    static func boolParameter(_ text: String?, name: String, default value: Bool = false) throws -> Bool {
        switch text {
        case nil: return value
        case "true": return true
        case "false": return false
        default: throw Problem.invalidRequest("\(name) must be true or false")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "body" : text)
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(jsonTypeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(jsonTypeName(type)), not null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context.codingPath)) is invalid"
        @unknown default:
            return "the body does not match the expected shape"
        }
    }

    static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        default: return String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        let data = try JSONEncoder.sortedKeys().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func recorded(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> RecordedResponse {
        RecordedResponse(status: Int(status.code), body: String(decoding: try JSONEncoder.sortedKeys().encode(value), as: UTF8.self))
    }

    /// Runs a write; with an `Idempotency-Key` the first answer is stored with the change and replayed
    /// to retries (same key and same request), and a reused key with another request is refused.
    func perform<Value: Sendable>(
        _ write: Write<Value>,
        request: Request,
        body: ByteBuffer,
        context: AppRequestContext,
        respond: @escaping @Sendable (Value) throws -> RecordedResponse
    ) async throws -> Response {
        let outcome: IdempotentOutcome
        if let key = request.headers[Self.idempotencyHeader], let token = context.token {
            var material = Array("\(request.method.rawValue) \(request.uri.path)\n".utf8)
            material.append(contentsOf: body.readableBytesView)
            let idempotencyKey: IdempotencyKey
            do {
                idempotencyKey = try IdempotencyKey(tokenID: token.id, key: key, requestFingerprint: SHA256.hash(material))
            } catch {
                throw Problem.from(error)
            }
            outcome = try await write.run(on: database, idempotencyKey: idempotencyKey, respond: respond)
        } else {
            outcome = .executed(try respond(try await write.run(on: database)))
        }
        let recorded = outcome.response
        var headers: HTTPFields = [.contentType: "application/json"]
        if case .replayed = outcome { headers[Self.replayedHeader] = "true" }
        return Response(
            status: HTTPResponse.Status(code: recorded.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: recorded.body))
        )
    }

    /// `cursor` of a keyset-paginated route: the `next_cursor` a previous page answered (0: the start).
    static func cursor(_ parameters: Parameters) throws -> Int64 {
        try parameters.get("cursor").map { text -> Int64 in
            guard let value = Int64(text), value >= 0 else { throw Problem.invalidRequest("cursor is not a cursor from next_cursor") }
            return value
        } ?? 0
    }

    /// `limit` of a paginated route, 1 to `maximum`.
    static func limit(_ parameters: Parameters, maximum: Int, default value: Int) throws -> Int {
        try parameters.get("limit").map { text -> Int in
            guard let limit = Int(text), (1...maximum).contains(limit) else {
                throw Problem.invalidRequest("limit must be 1 to \(maximum)")
            }
            return limit
        } ?? value
    }

    static func uuid(_ text: String, field: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw Problem.invalidRequest("\(field) is not a UUID") }
        return id
    }

    static func poolID(_ text: String, field: String = "pool") throws -> PoolID {
        guard let id = PoolID(text) else { throw Problem.invalidRequest("\(field) is not a Cognito user pool id (region_suffix)") }
        return id
    }
}

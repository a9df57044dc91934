import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How controllers read a request body: whole, within the size and time limits the server was
/// configured with, then as strict JSON whose errors name the field at fault.
struct RequestBodyReader: Sendable {
    /// A larger body is answered 413 `payload_too_large`.
    let maxBytes: Int
    /// A body still arriving after this long is answered 408 `request_timeout`.
    let timeout: Duration

    /// The whole body within the size limit and the time limit: a client that trickles its body
    /// (slowloris) gets 408 instead of holding a request slot open.
    func collect(_ request: Request) async throws -> ByteBuffer {
        let (limit, timeout) = (maxBytes, self.timeout)
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

    /// A collected body as `T`. An empty body, malformed JSON or a wrong shape is 400
    /// `invalid_request` whose detail says which field and what it must be
    /// (`DecodingError.problemDetail`), never the decoder's own text with Swift type names.
    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw Problem.invalidRequest("the request body is empty; send JSON") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.invalidRequest(error.problemDetail)
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import NIOCore
import Support

/// A value answered as `application/json`, sent now or recorded with a write for replay. Both
/// encode through the one sorted-keys encoder, so a retry replayed from its `Idempotency-Key`
/// record gets the same bytes as the first answer, and the same bytes as a read of the same value.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        let data = try JSONEncoder.sortedKeys().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// The answer a write stores with its idempotency record (see `Write.response(to:body:context:on:respond:)`).
    static func recorded(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> RecordedResponse {
        RecordedResponse(status: Int(status.code), body: String(decoding: try JSONEncoder.sortedKeys().encode(value), as: UTF8.self))
    }
}

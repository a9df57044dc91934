/// A transfer that failed before an HTTP status arrived, or whose body passed its
/// ``CurlRequest/ResponseBodyLimit/fail(above:)``. Never carries request or response bodies or headers.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request's timeout elapsed, waiting for a handle or during the transfer.
        case timeout
        case connect
        case tls
        /// A ``CurlRequest/connectFilter`` refused every address the host had (`message` names them).
        case addressRefused
        /// The calling task was cancelled; the request may or may not have reached the server.
        case cancelled
        /// The response body passed the request's ``CurlRequest/ResponseBodyLimit/fail(above:)``
        /// bound, `limit` bytes: the transfer was stopped there and the body dropped. The server
        /// did answer (its status is not kept: the answer is refused whole).
        case responseTooLarge(limit: Int)
        case other
    }
    public var kind: Kind
    /// libcurl's `CURLcode`; 0 when the failure was not libcurl's (cancellation, no free handle).
    public var code: Int32
    public var message: String

    public init(kind: Kind, code: Int32, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { "CurlError(\(kind), \(code)): \(message)" }

    static let cancelled = CurlError(kind: .cancelled, code: 0, message: "the calling task was cancelled")
}

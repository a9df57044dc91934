/// A transfer that failed before an HTTP status arrived. Never carries request bodies or headers.
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

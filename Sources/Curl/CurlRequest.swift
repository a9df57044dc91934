/// An HTTP request as the Cognito client, credential providers and webhook deliveries need it.
///
/// Named after the module rather than `HTTPRequest`, which Hummingbird re-exports from HTTPTypes.
public struct CurlRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Bounds the whole call: waiting for a free handle plus the transfer.
    public var timeout: Duration
    /// When set, libcurl opens a connection only to an address this accepts (the raw IP in network
    /// order: 4 bytes, or 16 for IPv6), asked at the moment each new connection is opened — after
    /// DNS, so a name that resolves (or is rebound) to a refused address is never connected to —
    /// and no proxy is used (a proxy's address would be the one checked). A refusal is
    /// ``CurlError/Kind/addressRefused``. A connection kept from an earlier transfer of the same
    /// handle was checked when it opened: give requests with different filters different clients.
    public var connectFilter: (@Sendable (_ address: [UInt8]) -> Bool)?
    /// How much of the response body is taken; nil: all of it, however long (only for a server
    /// trusted to answer within reason).
    public var responseBodyLimit: ResponseBodyLimit?

    public init(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Duration = .seconds(10),
        connectFilter: (@Sendable (_ address: [UInt8]) -> Bool)? = nil, responseBodyLimit: ResponseBodyLimit? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectFilter = connectFilter
        self.responseBodyLimit = responseBodyLimit
    }

    /// What happens to a response body longer than a bound. Either way, no more than the bound is
    /// ever held in memory, however much the server sends.
    public enum ResponseBodyLimit: Sendable, Equatable {
        /// Keeps the body's first bytes, as many as the bound; the rest is read and dropped, and the
        /// status still answers: for an answer of which only the status counts (a webhook receiver's).
        case truncate(at: Int)
        /// Stops the transfer as soon as the body passes the bound (a short count from libcurl's write
        /// callback): ``CurlError/Kind/responseTooLarge(limit:)``, and no response. For a document
        /// that is used whole or not at all (a key set, an API answer).
        case fail(above: Int)
    }
}

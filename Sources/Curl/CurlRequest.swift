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
    /// The most of the response body kept; the rest is read and dropped (nil: all of it).
    public var maxResponseBytes: Int?

    public init(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Duration = .seconds(10),
        connectFilter: (@Sendable (_ address: [UInt8]) -> Bool)? = nil, maxResponseBytes: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectFilter = connectFilter
        self.maxResponseBytes = maxResponseBytes
    }
}

/// An HTTP request as the Cognito client and credential providers need it.
///
/// Named after the module rather than `HTTPRequest`, which Hummingbird re-exports from HTTPTypes.
public struct CurlRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Bounds the whole call: waiting for a free handle plus the transfer.
    public var timeout: Duration

    public init(method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Duration = .seconds(10)) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

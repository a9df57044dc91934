/// An HTTP response, whatever its status: only transfers that got no status at all are errors.
public struct CurlResponse: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// The last value sent for `name` (any case).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last { $0.0 == lower }?.1
    }
}

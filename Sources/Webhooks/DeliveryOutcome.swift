public import Curl

/// What one attempt to deliver a message came to. Pure classification of an HTTP status or a
/// transfer error; the codes are what `webhooks.last_error_code`, lists and the metrics show
/// (never a message from libcurl or the receiver's body).
public enum DeliveryOutcome: Sendable, Equatable {
    /// A 2xx: the message is delivered and the cursor moves past it.
    case delivered(status: Int)
    /// `410 Gone`: the receiver says the endpoint is no more; it is disabled at once.
    case gone
    /// Any other status (redirects included: they are not followed).
    case refused(status: Int)
    /// No status: a timeout, no connection, TLS, an address the rules refuse.
    case failed(Failure)

    public enum Failure: String, Sendable, CaseIterable {
        case timeout
        case connect = "connect_error"
        case tls = "tls_error"
        /// The host resolved only to addresses that are not public (``AddressRule``).
        case addressNotAllowed = "address_not_allowed"
        case other = "transport_error"
    }

    public init(status: Int) {
        switch status {
        case 200..<300: self = .delivered(status: status)
        case 410: self = .gone
        default: self = .refused(status: status)
        }
    }

    public init(error: CurlError) {
        switch error.kind {
        case .timeout: self = .failed(.timeout)
        case .connect: self = .failed(.connect)
        case .tls: self = .failed(.tls)
        case .addressRefused: self = .failed(.addressNotAllowed)
        // responseTooLarge: deliveries only truncate a receiver's answer, never refuse it.
        case .cancelled, .responseTooLarge, .other: self = .failed(.other)
        }
    }

    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// The code stored and shown for a failed attempt (`http_503`, `timeout`, …); nil once delivered.
    public var errorCode: String? {
        switch self {
        case .delivered: return nil
        case .gone: return "http_410"
        case .refused(let status): return "http_\(status)"
        case .failed(let failure): return failure.rawValue
        }
    }

    /// The `outcome` label of `stableid_webhook_deliveries_total`: a small fixed set.
    public var metricLabel: String {
        switch self {
        case .delivered: return "delivered"
        case .gone, .refused: return "http_error"
        case .failed(let failure): return failure.rawValue
        }
    }

    /// Every value ``metricLabel`` takes.
    public static let metricLabels = ["delivered", "http_error"] + Failure.allCases.map(\.rawValue)
}

import Cognito
import Metrics

/// `stableid_token_verifications_total{outcome}`: token lookups by outcome — `verified` (the
/// token passed every check, whether or not its sub is linked), or the check that refused it
/// (``TokenRejection/reason``: `expired`, `signature_invalid`, `jwks_unavailable`, …). Every
/// outcome's counter is made at start, so each is in `/metrics` from 0 and cardinality is fixed.
/// A rise in `signature_invalid` or `key_unknown` is someone presenting forged tokens.
struct TokenVerificationMetrics: Sendable {
    static let label = "stableid_token_verifications_total"
    static let verified = "verified"

    private let counters: [String: Counter]

    init(factory: any MetricsFactory) {
        let outcomes = [Self.verified] + TokenRejection.allCases.map(\.reason)
        counters = Dictionary(
            uniqueKeysWithValues: outcomes.map { ($0, Counter(label: Self.label, dimensions: [("outcome", $0)], factory: factory)) }
        )
    }

    func count(_ outcome: String) {
        counters[outcome]?.increment()
    }
}

import Foundation
import Synchronization

/// Cognito's request-rate quota categories (per account and Region, all pools together).
public enum QuotaCategory: String, Sendable, CaseIterable {
    /// ListUsers: 30 requests/s, not adjustable.
    case userList = "UserList"
    /// AdminGetUser: 120/s.
    case userRead = "UserResourceRead"
    /// AdminInitiateAuth: 120/s.
    case userAuthentication = "UserAuthentication"
    /// AdminCreateUser: 50/s.
    case userCreation = "UserCreation"
    /// AdminUpdateUserAttributes, AdminDeleteUserAttributes, AdminDisableUser/EnableUser, AdminDeleteUser,
    /// AdminSetUserPassword: 25/s.
    case userUpdate = "UserResourceUpdate"
    /// DescribeUserPool, GetCSVHeader: 15/s.
    case poolRead = "UserPoolRead"
    /// CreateUserPool, CreateUserPoolClient (tests and demos): 5/s.
    case poolUpdate = "UserPoolUpdate"

    /// The default quota; StableID stays at or under it unless configured otherwise.
    public var defaultRate: Double {
        switch self {
        case .userList: return 30
        case .userRead, .userAuthentication: return 120
        case .userCreation: return 50
        case .userUpdate: return 25
        case .poolRead: return 15
        case .poolUpdate: return 5
        }
    }
}

/// Spaces calls so each category stays under its rate: call n may start no earlier than
/// `1/rate` after call n-1. No bursts, so a cron job never provokes throttling even when several
/// workers share the quota (give each its share of the rate).
public final class RatePacer: Sendable {
    private let intervals: [QuotaCategory: Duration]
    private let next = Mutex<[QuotaCategory: ContinuousClock.Instant]>([:])

    public init(rates: [QuotaCategory: Double] = [:]) {
        var intervals: [QuotaCategory: Duration] = [:]
        for category in QuotaCategory.allCases {
            let rate = rates[category] ?? category.defaultRate
            intervals[category] = rate > 0 ? .nanoseconds(Int64(1_000_000_000 / rate)) : .zero
        }
        self.intervals = intervals
    }

    /// Parses `UserList=10,UserCreation=20` (as in `STABLEID_COGNITO_RATES`); nil when malformed.
    public static func rates(from text: String) -> [QuotaCategory: Double]? {
        var rates: [QuotaCategory: Double] = [:]
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, let category = QuotaCategory(rawValue: pieces[0].trimmingCharacters(in: .whitespaces)),
                let rate = Double(pieces[1].trimmingCharacters(in: .whitespaces)), rate > 0
            else { return nil }
            rates[category] = rate
        }
        return rates
    }

    /// Waits for this call's slot. With a deadline the slot is taken only if it comes before the
    /// deadline (a Cognito trigger must answer within 5 s): otherwise nothing is reserved and
    /// the call is refused at once with `false`, instead of queueing past the point of use.
    @discardableResult
    public func wait(for category: QuotaCategory, deadline: ContinuousClock.Instant? = nil) async throws -> Bool {
        let interval = intervals[category] ?? .zero
        guard interval > .zero else { return true }
        let now = ContinuousClock.now
        let slot = next.withLock { next -> ContinuousClock.Instant? in
            let start = max(now, next[category] ?? now)
            if let deadline, start >= deadline { return nil }
            next[category] = start + interval
            return start
        }
        guard let slot else { return false }
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
        return true
    }
}

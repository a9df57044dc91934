public import Foundation

/// Why a campaign or trigger request was refused. Only the API module maps these to HTTP.
public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidCampaign(String)
    case campaignNotFound(String)
    /// The target pool is already in a campaign that is not done.
    case targetBusy(pool: String, campaign: UUID)
    case nameTaken(String)
    /// A trigger for a pool StableID does not know.
    case unknownPool(String)
    /// The Migrate-user trigger of a pool that is the target of no campaign.
    case noCampaign(pool: String)
    /// The campaign has no source app client, so passwords cannot be checked.
    case noSourceClient(campaign: UUID)
    /// Sign-in refused: unknown user, wrong password, disabled or unconfirmed user, or an MFA
    /// user the campaign refuses. One answer for all of them: Cognito shows it to whoever is
    /// signing in, and a different one for unknown users would tell an attacker who exists.
    case notAuthorized
    /// A trigger event without what its kind needs (a sub, say).
    case malformedEvent(String)
    /// A progress query whose level or fitting window is out of range.
    case invalidProgressQuery(String)

    public var description: String {
        switch self {
        case .invalidCampaign(let reason): return reason
        case .campaignNotFound(let id): return "no campaign \(id)"
        case .targetBusy(let pool, let campaign):
            return "pool \(pool) is already the target of campaign \(campaign.uuidString.lowercased())"
        case .nameTaken(let name): return "a campaign is already named \(name)"
        case .unknownPool(let pool): return "pool \(pool) is not registered"
        case .noCampaign(let pool): return "pool \(pool) is the target of no campaign"
        case .noSourceClient(let campaign):
            return "campaign \(campaign.uuidString.lowercased()) has no source app client (--source-client-id)"
        case .notAuthorized: return "Incorrect username or password."
        case .malformedEvent(let reason): return reason
        case .invalidProgressQuery(let reason): return reason
        }
    }
}

public import Foundation
public import IdentityMap
import Support

// The details of the events campaigns and triggers record (the identity map's own kinds live
// in IdentityMap/Events/EventDetails.swift). Keys are part of the audit contract.

public struct CampaignCreatedDetails: EventDetails {
    public static let kind = EventKind.campaignCreated
    public var campaign: Campaign

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign.id), "name": .string(campaign.name), "target": .string(campaign.target.rawValue),
            "sources": .array(campaign.sources.map { .string($0.pool.rawValue) }),
            "link_by": .array(campaign.linkBy.map { .string($0.rawValue) }),
        ]
        if let attribute = campaign.stableIDAttribute { json["stable_id_attribute"] = .string(attribute) }
        if let client = campaign.sources.first?.clientID { json["source_client_id"] = .string(client) }
        json["mfa_users"] = .string(campaign.mfaUsers.rawValue)
        json["target_facts"] = .object(campaign.targetFacts.json)
        // Attribute names, how many values each, and the member file's counts: never a value, a
        // digest of one, nor a username it lists (they may be people's, and this cannot be erased).
        if let subset = campaign.subset { json["subset"] = .object(subset.recordedJSON) }
        return json
    }
}

/// A reconciliation run read the target pool's facts (self sign-up, who writes the stable-ID
/// attribute) and found them changed: what the triggers trust changed with them.
public struct CampaignTargetFactsChangedDetails: EventDetails {
    public static let kind = EventKind.campaignTargetFactsChanged
    public var campaign: UUID
    public var from: TargetPoolFacts
    public var to: TargetPoolFacts

    public var json: [String: JSONValue] {
        ["campaign": JSONValue(campaign), "from": .object(from.json), "to": .object(to.json)]
    }
}

public struct CampaignPhaseChangedDetails: EventDetails {
    public static let kind = EventKind.campaignPhaseChanged
    public var campaign: UUID
    public var from: Campaign.Phase
    public var to: Campaign.Phase

    public var json: [String: JSONValue] {
        ["campaign": JSONValue(campaign), "from": .string(from.rawValue), "to": .string(to.rawValue)]
    }
}

/// A Migrate-user trigger that let a user into the target pool. Never carries the password.
public struct MigrationSucceededDetails: EventDetails {
    public static let kind = EventKind.migrationSucceeded
    public var campaign: UUID
    public var targetPool: PoolID
    public var via: LinkPath
    /// Set when the source pool answered with a challenge (NEW_PASSWORD_REQUIRED, MFA): the
    /// password was right, and the target pool will ask the user for the rest.
    public var challenge: String?
    /// Set for an MFA challenge: what the campaign did about the factor it cannot check
    /// (`reset`: migrated RESET_REQUIRED).
    public var mfa: Campaign.MFAUsers?

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign), "target_pool": .string(targetPool.rawValue), "via": .string(via.rawValue),
        ]
        if let challenge { json["challenge"] = .string(challenge) }
        if let mfa { json["mfa"] = .string(mfa.rawValue) }
        return json
    }
}

/// A Migrate-user trigger that refused the sign-in of a user a source pool has: an event of that
/// user's person. Never carries the password.
public struct MigrationFailedDetails: EventDetails {
    public static let kind = EventKind.migrationFailed
    public enum Reason: String, Sendable {
        /// Recorded before 0011 for usernames no source pool knew; now only counted
        /// (``MigrationRefusalsCountedDetails``).
        case userNotFound = "user_not_found"
        case notAuthorized = "not_authorized"
        case disabled
        /// The password was right, the source user has MFA, and the campaign refuses such users.
        case mfaRefused = "mfa_refused"
        /// The person has an account in the target already (or `campaign finalize` is creating
        /// one): only counted (``MigrationRefusalsCountedDetails``), as unknown usernames are.
        case alreadyInTarget = "already_in_target"
        /// The source user is not in the campaign's subset (``CampaignSubset``): answered as an
        /// unknown user is, and only counted.
        case outsideSubset = "outside_subset"
    }
    public var campaign: UUID
    public var targetPool: PoolID
    public var via: LinkPath
    public var reason: Reason
    /// The challenge the source answered (for `mfa_refused`).
    public var challenge: String?

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign), "target_pool": .string(targetPool.rawValue), "via": .string(via.rawValue),
            "reason": .string(reason.rawValue),
        ]
        if let challenge { json["challenge"] = .string(challenge) }
        return json
    }
}

/// Sign-ins refused for usernames no source pool knows, counted over a window: anyone can send
/// them through Cognito's public sign-in, and the usernames typed (often a mistyped email, or a
/// password in the wrong field) are not kept. At most one such event per campaign and minute.
public struct MigrationRefusalsCountedDetails: EventDetails {
    public static let kind = EventKind.migrationRefusalsCounted
    public var campaign: UUID
    public var targetPool: PoolID
    /// Refusals by reason (`user_not_found`, `already_in_target`, `outside_subset`).
    public var counts: [String: Int]
    public var since: Date
    public var until: Date

    public var json: [String: JSONValue] {
        [
            "campaign": JSONValue(campaign), "target_pool": .string(targetPool.rawValue),
            "counts": .object(counts.mapValues { .number(Double($0)) }),
            "since": .string(RFC3339.format(since)), "until": .string(RFC3339.format(until)),
        ]
    }
}

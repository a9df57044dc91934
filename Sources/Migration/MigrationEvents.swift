public import Foundation
public import IdentityMap

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
        return json
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

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign), "target_pool": .string(targetPool.rawValue), "via": .string(via.rawValue),
        ]
        if let challenge { json["challenge"] = .string(challenge) }
        return json
    }
}

/// A Migrate-user trigger that refused the sign-in. Never carries the password.
public struct MigrationFailedDetails: EventDetails {
    public static let kind = EventKind.migrationFailed
    public enum Reason: String, Sendable {
        case userNotFound = "user_not_found"
        case notAuthorized = "not_authorized"
        case disabled
    }
    public var campaign: UUID
    public var targetPool: PoolID
    public var via: LinkPath
    public var reason: Reason

    public var json: [String: JSONValue] {
        [
            "campaign": JSONValue(campaign), "target_pool": .string(targetPool.rawValue), "via": .string(via.rawValue),
            "reason": .string(reason.rawValue),
        ]
    }
}

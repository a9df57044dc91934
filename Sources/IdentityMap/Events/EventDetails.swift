public import Foundation
import Postgres

/// The details of one kind of event: the non-personal facts an auditor reads, as a typed shape
/// kept here and nowhere else. The JSON keys are part of the audit contract (docs/AUDIT.md):
/// add keys, never rename one.
public protocol EventDetails: Sendable {
    static var kind: EventKind { get }
    var json: [String: JSONValue] { get }
}

extension Int {
    var json: JSONValue { .number(Double(self)) }
}

public struct UserCreatedDetails: EventDetails {
    public static let kind = EventKind.userCreated
    /// True when the caller chose the ID (a legacy sub reused by a backfill, say).
    public var givenID: Bool
    public var identities: Int
    public var importRun: UUID?

    public init(givenID: Bool, identities: Int, importRun: UUID? = nil) {
        self.givenID = givenID
        self.identities = identities
        self.importRun = importRun
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = ["given_id": .bool(givenID), "identities": identities.json]
        if let importRun { json["import_run"] = JSONValue(importRun) }
        return json
    }
}

public struct IdentityLinkedDetails: EventDetails {
    public static let kind = EventKind.identityLinked
    public var provider: String
    public var emailVerified: Bool
    /// The user the identity belonged to before (it had been unlinked there).
    public var relinkedFrom: UUID?
    public var importRun: UUID?
    public var via: LinkPath
    public var campaignID: UUID?

    public init(
        provider: String, emailVerified: Bool, relinkedFrom: UUID? = nil, importRun: UUID? = nil, via: LinkPath = .manual,
        campaignID: UUID? = nil
    ) {
        self.provider = provider
        self.emailVerified = emailVerified
        self.relinkedFrom = relinkedFrom
        self.importRun = importRun
        self.via = via
        self.campaignID = campaignID
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "provider": .string(provider), "email_verified": .bool(emailVerified), "via": .string(via.rawValue),
        ]
        if let relinkedFrom { json["relinked_from"] = JSONValue(relinkedFrom) }
        if let importRun { json["import_run"] = JSONValue(importRun) }
        if let campaignID { json["campaign"] = JSONValue(campaignID) }
        return json
    }
}

public struct IdentityUnlinkedDetails: EventDetails {
    public static let kind = EventKind.identityUnlinked
    public var previousStatus: IdentityStatus

    public init(previousStatus: IdentityStatus) { self.previousStatus = previousStatus }

    public var json: [String: JSONValue] { ["previous_status": .string(previousStatus.rawValue)] }
}

public struct UserMergedDetails: EventDetails {
    public static let kind = EventKind.userMerged
    public var from: UUID
    public var survivor: UUID
    /// Exactly the identities the merge moved, so it can be audited (and undone) later.
    public var movedIdentities: [IdentityKey]
    /// Users merged into `from` earlier that now point straight at `survivor` (an unmerge points
    /// them back).
    public var repointedUsers: [UUID]

    public init(from: UUID, survivor: UUID, movedIdentities: [IdentityKey], repointedUsers: [UUID]) {
        self.from = from
        self.survivor = survivor
        self.movedIdentities = movedIdentities
        self.repointedUsers = repointedUsers
    }

    public var json: [String: JSONValue] {
        [
            "from": JSONValue(from), "survivor": JSONValue(survivor),
            "moved_identities": .array(movedIdentities.map { ["pool": .string($0.pool.rawValue), "sub": .string($0.sub)] }),
            "repointed_merges": repointedUsers.count.json, "repointed_users": .array(repointedUsers.map(JSONValue.init)),
        ]
    }
}

public struct UserUnmergedDetails: EventDetails {
    public static let kind = EventKind.userUnmerged
    public var from: UUID
    public var survivor: UUID
    /// The merge being undone (its event id).
    public var mergeEvent: Int64
    public var restoredIdentities: [IdentityKey]
    public var repointedUsers: [UUID]

    public init(from: UUID, survivor: UUID, mergeEvent: Int64, restoredIdentities: [IdentityKey], repointedUsers: [UUID]) {
        self.from = from
        self.survivor = survivor
        self.mergeEvent = mergeEvent
        self.restoredIdentities = restoredIdentities
        self.repointedUsers = repointedUsers
    }

    public var json: [String: JSONValue] {
        [
            "from": JSONValue(from), "survivor": JSONValue(survivor), "merge_event": .number(Double(mergeEvent)),
            "restored_identities": .array(restoredIdentities.map { ["pool": .string($0.pool.rawValue), "sub": .string($0.sub)] }),
            "repointed_users": .array(repointedUsers.map(JSONValue.init)),
        ]
    }
}

public struct PoolAddedDetails: EventDetails {
    public static let kind = EventKind.poolAdded
    public var region: String
    public var issuer: String
    public var name: String?

    public init(region: String, issuer: String, name: String?) {
        self.region = region
        self.issuer = issuer
        self.name = name
    }

    public var access = PoolAccess()
    /// The app clients whose tokens may be resolved; nil (no key, as in every event before
    /// migration 0021) when any client may.
    public var tokenClientIDs: [String]?

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = ["region": .string(region), "issuer": .string(issuer), "name": JSONValue(name)]
        if let role = access.roleARN { json["role_arn"] = .string(role) }
        if access.externalID != nil { json["external_id_set"] = .bool(true) }
        if let profile = access.profile { json["aws_profile"] = .string(profile) }
        if let tokenClientIDs { json["token_client_ids"] = .array(tokenClientIDs.map(JSONValue.string)) }
        return json
    }
}

/// `from` and `to` are the allow-lists before and after; `null` is "any client of the pool".
public struct PoolTokenClientsChangedDetails: EventDetails {
    public static let kind = EventKind.poolTokenClientsChanged
    public var from: [String]?
    public var to: [String]?

    public init(from: [String]?, to: [String]?) {
        self.from = from
        self.to = to
    }

    public var json: [String: JSONValue] {
        func list(_ ids: [String]?) -> JSONValue { ids.map { .array($0.map(JSONValue.string)) } ?? .null }
        return ["from": list(from), "to": list(to)]
    }
}

public struct TokenCreatedDetails: EventDetails {
    public static let kind = EventKind.tokenCreated
    public var tokenID: UUID
    public var name: String
    public var scopes: [String]
    /// The pools a trigger token is bound to; nil (no `pools` key, as in every event before
    /// migration 0012) for an unbound token.
    public var pools: [String]?

    public init(tokenID: UUID, name: String, scopes: [String], pools: [String]? = nil) {
        self.tokenID = tokenID
        self.name = name
        self.scopes = scopes
        self.pools = pools
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "token_id": JSONValue(tokenID), "name": .string(name), "scopes": .array(scopes.map(JSONValue.string)),
        ]
        if let pools { json["pools"] = .array(pools.map(JSONValue.string)) }
        return json
    }
}

public struct TokenRevokedDetails: EventDetails {
    public static let kind = EventKind.tokenRevoked
    public var tokenID: UUID
    public var name: String

    public init(tokenID: UUID, name: String) {
        self.tokenID = tokenID
        self.name = name
    }

    public var json: [String: JSONValue] { ["token_id": JSONValue(tokenID), "name": .string(name)] }
}

public struct ImportCompletedDetails: EventDetails {
    public static let kind = EventKind.importCompleted
    public var importRun: UUID
    public var source: String
    public var reuseSubAsUserID: Bool
    public var report: BackfillReport

    public init(importRun: UUID, source: String, reuseSubAsUserID: Bool, report: BackfillReport) {
        self.importRun = importRun
        self.source = source
        self.reuseSubAsUserID = reuseSubAsUserID
        self.report = report
    }

    public var json: [String: JSONValue] {
        [
            "import_run": JSONValue(importRun), "source": .string(source), "reuse_sub_as_user_id": .bool(reuseSubAsUserID),
            "seen": report.seen.json, "created": report.created.json, "already_mapped": report.alreadyMapped.json,
            "conflicting": report.conflicting.json, "duplicates": report.duplicates.json, "invalid": report.invalid.json,
        ]
    }
}

public struct PersonalDataErasedDetails: EventDetails {
    public static let kind = EventKind.personalDataErased
    public var users: [UUID]
    public var identities: Int
    public var eventsScrubbed: Int
    /// The events whose personal data was deleted: `verify` accepts a missing personal-data row
    /// only when an erasure names it.
    public var scrubbedEvents: [Int64]
    /// The person's `campaign finalize` rows (`finalize_rows`, only when there are any): target
    /// pools where an account made for them may still exist.
    public var finalizeRows: [ErasedFinalizeRow]
    /// The subset campaigns whose `--only` values lost the person's emails or usernames
    /// (`subset_values`, only when there are any): how many, never which.
    public var subsetValues: [ErasedSubsetValues]

    public init(
        users: [UUID], identities: Int, eventsScrubbed: Int, scrubbedEvents: [Int64] = [], finalizeRows: [ErasedFinalizeRow] = [],
        subsetValues: [ErasedSubsetValues] = []
    ) {
        self.users = users
        self.identities = identities
        self.eventsScrubbed = eventsScrubbed
        self.scrubbedEvents = scrubbedEvents
        self.finalizeRows = finalizeRows
        self.subsetValues = subsetValues
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "users": .array(users.map(JSONValue.init)), "identities": identities.json, "events_scrubbed": eventsScrubbed.json,
            "scrubbed_events": .array(scrubbedEvents.map { .number(Double($0)) }),
        ]
        if !finalizeRows.isEmpty { json["finalize_rows"] = .array(finalizeRows.map(\.json)) }
        if !subsetValues.isEmpty { json["subset_values"] = .array(subsetValues.map(\.json)) }
        return json
    }
}

/// A subset campaign whose `--only` values an erasure took the person's emails or usernames out of
/// (`campaigns.subset`): the campaign and how many values went. No value: the count is all an
/// auditor needs to see that the campaign changed, and why.
public struct ErasedSubsetValues: Sendable, Equatable, Codable {
    public var campaign: UUID
    public var removed: Int

    public init(campaign: UUID, removed: Int) {
        self.campaign = campaign
        self.removed = removed
    }

    var json: JSONValue {
        .object(["campaign": JSONValue(campaign), "removed": removed.json])
    }
}

/// A `campaign finalize` row an erasure scrubbed (its username): the campaign, its target pool and
/// the row's state before. `creating` or `created` mean the target pool may hold an account made
/// for the person, which the erasure did not delete (StableID never deletes Cognito users). No
/// personal data: no username, no sub.
public struct ErasedFinalizeRow: Sendable, Equatable, Codable {
    public var campaign: UUID
    public var targetPool: String
    /// `creating`, `created`, `held` or `failed`.
    public var state: String

    public init(campaign: UUID, targetPool: String, state: String) {
        self.campaign = campaign
        self.targetPool = targetPool
        self.state = state
    }

    /// Whether an account may exist in the target pool.
    public var targetAccountMayExist: Bool { state == "creating" || state == "created" }

    enum CodingKeys: String, CodingKey {
        case campaign, state
        case targetPool = "target_pool"
    }

    var json: JSONValue {
        .object(["campaign": JSONValue(campaign), "target_pool": .string(targetPool), "state": .string(state)])
    }
}

/// Personal data an event mentions (usernames, emails): stored apart from the event so that an
/// erasure can delete it while the chain still verifies.
public struct EventPersonalData: Sendable, Equatable {
    public var username: String?
    public var email: String?

    public init(username: String? = nil, email: String? = nil) {
        self.username = username
        self.email = email
    }

    var json: [String: JSONValue] {
        var json: [String: JSONValue] = [:]
        if let username { json["username"] = .string(username) }
        if let email { json["email"] = .string(email) }
        return json
    }
}

// MARK: The same shapes built by SQL, for set-wise appends (EventLog.appendAll)

extension UserCreatedDetails {
    /// One user per row, each created with one identity by the same import run.
    static func sql(givenID: Bool, importRun: UUID) -> PostgresQuery {
        "jsonb_build_object('given_id', \(givenID)::boolean, 'identities', 1, 'import_run', \(importRun)::text)"
    }
}

extension IdentityLinkedDetails {
    /// `provider` and `emailVerified` name columns of the caller's working table.
    static func sql(providerColumn: String, emailVerifiedColumn: String, importRun: UUID) -> PostgresQuery {
        """
        jsonb_build_object('provider', \(unescaped: providerColumn), 'email_verified', \(unescaped: emailVerifiedColumn),
                           'import_run', \(importRun)::text, 'via', 'import')
        """
    }
}

extension EventPersonalData {
    /// `username` and `email` name columns of the caller's working table.
    static func sql(usernameColumn: String, emailColumn: String) -> String {
        "jsonb_build_object('username', \(usernameColumn), 'email', \(emailColumn))"
    }
}

public struct IdentityStatusChangedDetails: EventDetails {
    public static let kind = EventKind.identityStatusChanged
    public var from: IdentityStatus
    public var to: IdentityStatus
    public var reason: String
    /// The reconciliation finding and run a fix made the change for.
    public var finding: Int64?
    public var run: UUID?
    /// The campaign whose clean-up disabled or deleted the source user (`campaign cleanup`).
    public var campaign: UUID?

    public init(
        from: IdentityStatus, to: IdentityStatus, reason: String, finding: Int64? = nil, run: UUID? = nil, campaign: UUID? = nil
    ) {
        self.from = from
        self.to = to
        self.reason = reason
        self.finding = finding
        self.run = run
        self.campaign = campaign
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = ["from": .string(from.rawValue), "to": .string(to.rawValue), "reason": .string(reason)]
        if let finding { json["finding"] = .number(Double(finding)) }
        if let run { json["run"] = JSONValue(run) }
        if let campaign { json["campaign"] = JSONValue(campaign) }
        return json
    }

    /// The same object built set-wise (``IdentitySetWrites``): `fromColumn`/`toColumn` are
    /// code-chosen SQL over a working table that also has `finding`.
    static func sql(fromColumn: String, toColumn: String, reason: String, run: UUID) -> PostgresQuery {
        """
        jsonb_build_object('from', \(unescaped: fromColumn), 'to', \(unescaped: toColumn), 'reason', \(reason)::text,
                           'finding', finding, 'run', \(run)::text)
        """
    }
}

/// A stale identity's email or verified flag refreshed from its pool (`stableid reconcile --fix
/// stale`). The new address is personal data and goes to `event_personal_data`.
public struct IdentityRefreshedDetails: EventDetails {
    public static let kind = EventKind.identityRefreshed
    public var finding: Int64
    public var run: UUID
    /// `email`, `email_verified`.
    public var fields: [String]
    public var emailVerified: Bool

    public init(finding: Int64, run: UUID, fields: [String], emailVerified: Bool) {
        self.finding = finding
        self.run = run
        self.fields = fields
        self.emailVerified = emailVerified
    }

    public var json: [String: JSONValue] {
        [
            "finding": .number(Double(finding)), "run": JSONValue(run), "fields": .array(fields.map(JSONValue.string)),
            "email_verified": .bool(emailVerified),
        ]
    }

    /// The same object built set-wise over a working table with `finding`, `email_changed`,
    /// `verified_changed`, `email_verified`.
    static func sql(run: UUID) -> PostgresQuery {
        """
        jsonb_build_object('finding', finding, 'run', \(run)::text, 'email_verified', email_verified,
                           'fields', to_jsonb(array_remove(ARRAY[CASE WHEN email_changed THEN 'email' END,
                                                                 CASE WHEN verified_changed THEN 'email_verified' END], NULL)))
        """
    }
}

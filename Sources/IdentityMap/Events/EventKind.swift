/// The kind of an audit event. The raw values are part of the audit contract: never rename one.
public struct EventKind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let userCreated = EventKind(rawValue: "user_created")
    public static let userMerged = EventKind(rawValue: "user_merged")
    public static let userUnmerged = EventKind(rawValue: "user_unmerged")
    public static let identityLinked = EventKind(rawValue: "identity_linked")
    public static let identityUnlinked = EventKind(rawValue: "identity_unlinked")
    public static let identityStatusChanged = EventKind(rawValue: "identity_status_changed")
    /// A stale identity's email or verified flag refreshed from its pool by `--fix stale`.
    public static let identityRefreshed = EventKind(rawValue: "identity_refreshed")
    public static let poolAdded = EventKind(rawValue: "pool_added")
    /// A pool's allow-list of app clients for token lookups (`POST /v1/resolve/token`) set or lifted.
    public static let poolTokenClientsChanged = EventKind(rawValue: "pool_token_clients_changed")
    public static let tokenCreated = EventKind(rawValue: "token_created")
    public static let tokenRevoked = EventKind(rawValue: "token_revoked")
    public static let importCompleted = EventKind(rawValue: "import_completed")
    public static let personalDataErased = EventKind(rawValue: "personal_data_erased")
    public static let campaignCreated = EventKind(rawValue: "campaign_created")
    public static let campaignPhaseChanged = EventKind(rawValue: "campaign_phase_changed")
    public static let migrationSucceeded = EventKind(rawValue: "migration_succeeded")
    public static let migrationFailed = EventKind(rawValue: "migration_failed")
    /// Refused sign-ins of usernames no source pool knows, counted per campaign and minute: the
    /// usernames (often a mistyped email) are never kept.
    public static let migrationRefusalsCounted = EventKind(rawValue: "migration_refusals_counted")
    public static let campaignTargetFactsChanged = EventKind(rawValue: "campaign_target_facts_changed")
    /// `campaign finalize --mode csv` wrote user-import files (counts only; the files hold the users).
    public static let campaignFinalizeExported = EventKind(rawValue: "campaign_finalize_exported")
    /// A `campaign finalize --mode invite|passwordless` run (or `--resend`) ended: its counts. Each
    /// user it created is that person's own `identity_linked` event (via `invite`/`passwordless`).
    public static let campaignFinalizeCompleted = EventKind(rawValue: "campaign_finalize_completed")
    /// `stableid stamp` wrote a user's stable ID into a custom attribute of the pool (after
    /// Cognito took the write). Names the user, pool and sub; the value is the user ID itself.
    public static let userStamped = EventKind(rawValue: "user_stamped")
    /// `stableid stamp` removed a stable-ID attribute from a user of the pool that the map does not
    /// resolve to the person it named (after Cognito took the removal). Names the pool and sub, and
    /// the identity's person when the map holds the sub; the value only when it was a UUID.
    public static let stableIDAttributeCleared = EventKind(rawValue: "stable_id_attribute_cleared")
    /// A `stableid stamp` run ended — completed, stopped at its `--limit`, or failed — with its counts.
    public static let stampRunFinished = EventKind(rawValue: "stamp_run_finished")
    /// A webhook endpoint registered (`stableid webhook add`, `POST /v1/webhooks`). Never its secret,
    /// nor the URL's credentials or query.
    public static let webhookAdded = EventKind(rawValue: "webhook_added")
    /// A webhook endpoint removed, with its secret.
    public static let webhookRemoved = EventKind(rawValue: "webhook_removed")
    /// A webhook endpoint switched on again, resuming from its cursor (or from the feed's end).
    public static let webhookEnabled = EventKind(rawValue: "webhook_enabled")
    /// A webhook endpoint stopped: by an operator, or by the service (failing for the whole retry
    /// window, `410 Gone`, a cursor past the feed's retention), with the reason.
    public static let webhookDisabled = EventKind(rawValue: "webhook_disabled")
    /// A `stableid campaign cleanup --apply` run ended: its counts. Each source user it disabled or
    /// deleted is that identity's own `identity_status_changed` event (naming the campaign).
    public static let campaignCleanupCompleted = EventKind(rawValue: "campaign_cleanup_completed")
}

public import Foundation
public import IdentityMap
public import Reconciliation
public import UserMigration

/// Everything one campaign's report shows, gathered by the caller (the served page or
/// `stableid campaign report --html`); ``html()`` renders it without reading anything else, so both
/// forms of the report are the same page.
public struct ReportPage: Sendable {
    public var progress: CampaignProgress
    public var findings: ReportFindings
    public var generatedAt: Date
    /// The served page's forms (person lookup, sign-out) with their CSRF tokens; nil for the file,
    /// which has no session to post with and says where the lookup is instead.
    public var forms: ReportForms?
    /// The answer to a person lookup made from this page, shown under its form.
    public var lookup: LookupResult?

    public init(
        progress: CampaignProgress, findings: ReportFindings, generatedAt: Date, forms: ReportForms? = nil, lookup: LookupResult? = nil
    ) {
        self.progress = progress
        self.findings = findings
        self.generatedAt = generatedAt
        self.forms = forms
        self.lookup = lookup
    }

    public var campaign: Campaign { progress.campaign }
}

/// Open findings of the campaign's reconciliation scope: counts for every kind, and the first
/// few of each kind for the drill-down lists.
public struct ReportFindings: Sendable {
    public var counts: FindingCounts
    /// Up to ``limit`` open findings per kind, oldest first.
    public var open: [FindingKind: [Finding]]
    /// How many of each kind the page lists; the rest are a `stableid findings list` away.
    public var limit: Int
    /// The newest completed reconciliation of the campaign: findings are as of its read.
    public var asOf: Date?

    public static let defaultLimit = 50

    public init(counts: FindingCounts, open: [FindingKind: [Finding]], limit: Int = ReportFindings.defaultLimit, asOf: Date? = nil) {
        self.counts = counts
        self.open = open
        self.limit = limit
        self.asOf = asOf
    }
}

/// The CSRF tokens of the served page's forms (``IdentityMap/ReportSession/csrfToken(for:)``).
public struct ReportForms: Sendable {
    public var lookupToken: String
    public var signOutToken: String

    public init(lookupToken: String, signOutToken: String) {
        self.lookupToken = lookupToken
        self.signOutToken = signOutToken
    }
}

/// What a person lookup found. The query itself is not shown again: it may be an email address.
public struct LookupResult: Sendable {
    public enum Outcome: Sendable {
        case found([PersonHistory])
        case notFound
        /// The query was neither a UUID nor an email address: says what to give.
        case invalid(String)
    }

    public var outcome: Outcome

    public init(_ outcome: Outcome) {
        self.outcome = outcome
    }
}

/// One person a lookup found: the user (merges followed) with every identity, and their events.
public struct PersonHistory: Sendable {
    public var user: User
    /// Oldest first, up to the caller's limit.
    public var events: [AuditEvent]
    /// More events exist than are shown.
    public var hasMore: Bool

    public init(user: User, events: [AuditEvent], hasMore: Bool) {
        self.user = user
        self.events = events
        self.hasMore = hasMore
    }
}

public import Foundation
public import IdentityMap
import Postgres
import Support

// The events reconciliation records (DESIGN §5: "finding opened/resolved" are audited changes).
// Keys are part of the audit contract (docs/AUDIT.md): add keys, never rename one. The kinds live
// here rather than in IdentityMap/Events/EventKind.swift because only this module writes them;
// StateReplay needs none of them (identity changes made by fixes use `identity_status_changed`,
// which it replays; `identity_refreshed` changes only email fields, which it does not compare).

extension EventKind {
    public static let findingOpened = EventKind(rawValue: "finding_opened")
    public static let findingResolved = EventKind(rawValue: "finding_resolved")
    public static let findingAcknowledged = EventKind(rawValue: "finding_acknowledged")
    public static let reconcileCompleted = EventKind(rawValue: "reconcile_completed")
}

/// A run saw a finding that was not open: new, or seen again after it had been resolved.
public struct FindingOpenedDetails: EventDetails {
    public static let kind = EventKind.findingOpened
    public var finding: Int64
    public var findingKind: FindingKind
    /// In the details only when it names no person's account (see ``FindingEventSubject``).
    public var subject: String
    public var run: UUID
    public var campaign: UUID?
    public var reopened: Bool

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "finding": .number(Double(finding)), "kind": .string(findingKind.rawValue), "run": JSONValue(run),
            "reopened": .bool(reopened),
        ]
        json.merge(FindingEventSubject.details(subject)) { $1 }
        if let campaign { json["campaign"] = JSONValue(campaign) }
        return json
    }

    /// What goes to `event_personal_data`: the subject, when it is personal.
    public var personal: [String: JSONValue] { FindingEventSubject.personal(subject) }

    /// The same object built set-wise from `recon_changes` (columns `finding_id`, `kind`,
    /// `subject`, `change`), for ``EventLog/appendAll(kind:fill:attribution:on:)``; its personal
    /// column is ``FindingEventSubject/personalSQL``.
    static func sql(run: UUID, campaign: UUID?) -> PostgresQuery {
        var campaignPart: PostgresQuery = ""
        if let campaign { campaignPart = ", 'campaign', \(campaign)::text" }
        return """
            jsonb_build_object('finding', finding_id, 'kind', kind, 'run', \(run)::text,
                               'reopened', change = 'reopened'\(fragment: campaignPart)) || \(fragment: FindingEventSubject.detailsSQL)
            """
    }
}

/// A finding is no longer open: a later run did not see it (`not_seen`), or a fix removed its
/// cause (`fixed`, with the action taken).
public struct FindingResolvedDetails: EventDetails {
    public static let kind = EventKind.findingResolved
    public enum Reason: String, Sendable {
        case notSeen = "not_seen"
        case fixed
    }
    public var finding: Int64
    public var findingKind: FindingKind
    /// In the details only when it names no person's account (see ``FindingEventSubject``).
    public var subject: String
    public var run: UUID
    public var reason: Reason
    /// For `fixed`: `refresh`, `mark_deleted` or `link`.
    public var fix: String?

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "finding": .number(Double(finding)), "kind": .string(findingKind.rawValue), "run": JSONValue(run),
            "reason": .string(reason.rawValue),
        ]
        json.merge(FindingEventSubject.details(subject)) { $1 }
        if let fix { json["fix"] = .string(fix) }
        return json
    }

    /// What goes to `event_personal_data`: the subject, when it is personal.
    public var personal: [String: JSONValue] { FindingEventSubject.personal(subject) }

    /// Set-wise over a working table with `finding_id`, `kind`, `subject` (and `fix` when fixed);
    /// its personal column is ``FindingEventSubject/personalSQL``.
    static func sql(run: UUID, reason: Reason, fixColumn: String? = nil) -> PostgresQuery {
        let fixPart = fixColumn.map { ", 'fix', \($0)" } ?? ""
        return """
            jsonb_build_object('finding', finding_id, 'kind', kind, 'run', \(run)::text,
                               'reason', \(reason.rawValue)::text\(unescaped: fixPart)) || \(fragment: FindingEventSubject.detailsSQL)
            """
    }
}

/// Where a finding's subject goes in its events. Events are immutable and chained, so they may
/// only hold what erasure never has to take back. `pool/sub` and `user:…` subjects name ids that
/// events carry anyway; `email:<digest>` (an unsalted SHA-256 of an address, which a dictionary
/// of addresses reverses) and `federated:<provider>:<user id>` name a person's account, so they
/// go to `event_personal_data`, which erasure deletes.
public enum FindingEventSubject {
    /// The details part: `["subject": …]`, or nothing for a personal subject.
    public static func details(_ subject: String) -> [String: JSONValue] {
        ReconcileRules.isPersonal(subject: subject) ? [:] : ["subject": .string(subject)]
    }

    /// The personal part: `["subject": …]` for a personal subject, else nothing.
    public static func personal(_ subject: String) -> [String: JSONValue] {
        ReconcileRules.isPersonal(subject: subject) ? ["subject": .string(subject)] : [:]
    }

    /// ``ReconcileRules/isPersonal(subject:)`` over a column named `subject`.
    static var isPersonalSQL: PostgresQuery {
        "(starts_with(subject, \(ReconcileRules.emailSubjectPrefix)) OR starts_with(subject, \(ReconcileRules.federatedSubjectPrefix)))"
    }

    /// jsonb to merge into the details (`… || detailsSQL`).
    static var detailsSQL: PostgresQuery {
        "(CASE WHEN \(fragment: isPersonalSQL) THEN '{}'::jsonb ELSE jsonb_build_object('subject', subject) END)"
    }

    /// The `personal` column of `event_log_batch` (NULL: no personal data).
    static var personalSQL: PostgresQuery {
        "(CASE WHEN \(fragment: isPersonalSQL) THEN jsonb_build_object('subject', subject) END)"
    }
}

/// An operator acknowledged findings (one event per request, listing every finding it covered).
/// The operator's reason is free text that may name a person, so it is not a detail: it goes to
/// the event's personal data under `reason` (see ``personal(reason:)``), next to the `subject` of
/// a single finding whose subject is personal (``FindingEventSubject``), by which erasure finds it.
public struct FindingAcknowledgedDetails: EventDetails {
    public static let kind = EventKind.findingAcknowledged
    public var findings: [Int64]
    public var until: Date?

    public init(findings: [Int64], until: Date? = nil) {
        self.findings = findings
        self.until = until
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "findings": .array(findings.map { .number(Double($0)) }), "count": .number(Double(findings.count)),
        ]
        if let until { json["until"] = .string(RFC3339.format(until)) }
        return json
    }

    /// The event's personal data.
    public static func personal(reason: String) -> [String: JSONValue] { ["reason": .string(reason)] }
}

/// One run's outcome, in the transaction that opened and resolved its findings.
public struct ReconcileCompletedDetails: EventDetails {
    public static let kind = EventKind.reconcileCompleted
    public var run: UUID
    public var scope: String
    public var campaign: UUID?
    public var source: ReconcileSource
    /// Pool → where its users were read (`cognito:ListUsers`, `file:users.json`).
    public var sources: [String: String]
    public var scanned: [String: Int]
    public var counts: FindingCounts
    public var opened: FindingCounts
    public var resolved: FindingCounts
    public var warnings: Int

    public var json: [String: JSONValue] {
        func object(_ counts: [String: Int]) -> JSONValue { .object(counts.mapValues { .number(Double($0)) }) }
        var json: [String: JSONValue] = [
            "run": JSONValue(run), "scope": .string(scope), "source": .string(source.rawValue),
            "sources": .object(sources.mapValues(JSONValue.string)), "scanned": object(scanned),
            "counts": object(counts.dictionary), "new": object(opened.dictionary), "resolved": object(resolved.dictionary),
            "warnings": .number(Double(warnings)),
        ]
        if let campaign { json["campaign"] = JSONValue(campaign) }
        return json
    }
}

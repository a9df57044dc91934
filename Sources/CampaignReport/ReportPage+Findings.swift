import Foundation
import IdentityMap
import Reconciliation
import UserMigration

extension ReportPage {
    /// Counts for every kind, each a drill-down of its first open findings. Subjects, pools,
    /// subs and user IDs only: findings never carry emails or usernames.
    func findingsSection() -> String {
        var out = "<h2>Open findings</h2>"
        if let asOf = findings.asOf {
            out += #"<p class="muted">As of the reconciliation that finished \#(HTML.escape(ReportFormat.time(asOf))). "#
        } else {
            out += #"<p class="muted">No reconciliation of this campaign has completed yet. "#
        }
        out += "<code>stableid reconcile --campaign " + HTML.escape(ReportFormat.id(campaign.id)) + "</code> refreshes them.</p>"
        out += #"<p id="findings-total">\#(ReportFormat.count(findings.counts.total)) open in all.</p>"#
        for kind in FindingKind.allCases {
            out += kindSection(kind)
        }
        return out
    }

    func kindSection(_ kind: FindingKind) -> String {
        let count = findings.counts[kind]
        let listed = findings.open[kind] ?? []
        var out = #"<details id="findings-\#(kind.rawValue)" data-open="\#(count)"><summary>"#
        out += HTML.escape(kind.rawValue) + " — " + ReportFormat.count(count) + " open</summary>"
        out += #"<p class="muted">\#(HTML.escape(Self.meaning(of: kind)))</p>"#
        guard !listed.isEmpty else { return out + "<p>None listed.</p></details>" }
        out += "<table><thead><tr><th>Subject</th><th>Pool</th><th>Sub</th><th>Stable ID</th><th>First seen</th></tr></thead><tbody>"
        for finding in listed {
            out += "<tr><td>" + Self.code(finding.subject) + "</td><td>" + HTML.escape(finding.pool ?? "–") + "</td>"
            out += "<td>" + (finding.sub.map(Self.code) ?? "–") + "</td>"
            out += "<td>" + (finding.userID.map { Self.code(ReportFormat.id($0)) } ?? "–") + "</td>"
            out += "<td>" + HTML.escape(ReportFormat.time(finding.firstSeenAt)) + "</td></tr>"
        }
        out += "</tbody></table>"
        if count > listed.count {
            out += #"<p class="muted">The first \#(ReportFormat.count(listed.count)) of \#(ReportFormat.count(count)); "#
            out += "<code>stableid findings list --campaign " + HTML.escape(ReportFormat.id(campaign.id)) + " --kind "
            out += HTML.escape(kind.rawValue) + " --state open</code> lists them all.</p>"
        }
        return out + "</details>"
    }

    /// What a kind of finding means, in a line (DESIGN §6).
    static func meaning(of kind: FindingKind) -> String {
        switch kind {
        case .unmigrated: return "Enabled source users whose person has no active identity in the target pool."
        case .migratedElsewhere: return "Source users to move whose person is already in the target pool of another campaign."
        case .unmapped: return "Cognito users the map does not know."
        case .orphaned: return "Identities whose Cognito user is gone, and people with no live identity left."
        case .duplicate: return "Two people sharing a verified email or federated account, or one person twice in a pool."
        case .conflict: return "The pool's stable-ID attribute names another person than the map does."
        case .stale: return "Email, verified flag or enabled state differ between the pool and the map."
        }
    }
}

import Foundation
import IdentityMap
import Reconciliation
import UserMigration

extension ReportPage {
    /// The whole page: header, numbers, curve, findings, person lookup.
    public func html() -> String {
        let body =
            header() + summary() + "<h2>Curve</h2>" + ProgressChart(progress: progress).html() + findingsSection()
            + lookupSection()
        return ReportDocument.render(title: "Campaign \(campaign.name)", signOutToken: forms?.signOutToken, body: body)
    }

    /// Which campaign, in which phase, between which pools, and when this page was made.
    func header() -> String {
        let sources = campaign.sources.map { Self.code($0.pool.rawValue) }.joined(separator: ", ")
        var out = "<h1>" + HTML.escape(campaign.name) + "</h1>" + #"<dl class="facts">"#
        out += Self.fact("Campaign", Self.code(ReportFormat.id(campaign.id)))
        let since = HTML.escape(ReportFormat.time(campaign.phaseChangedAt))
        out += Self.fact("Phase", HTML.escape(campaign.phase.rawValue) + " since " + since)
        out += Self.fact("Target pool", Self.code(campaign.target.rawValue))
        out += Self.fact(campaign.sources.count == 1 ? "Source pool" : "Source pools", sources)
        out += Self.fact("Created", HTML.escape(ReportFormat.time(campaign.createdAt)))
        out += Self.fact("Generated", HTML.escape(ReportFormat.time(generatedAt)))
        return out + "</dl>"
    }

    /// Migrated, remaining and the share left, with where the remaining count comes from.
    func summary() -> String {
        var out = #"<h2>Progress</h2><div class="numbers">"#
        out += Self.number(id: "migrated", ReportFormat.count(progress.migrated), "migrated (active target identities)")
        out += Self.number(id: "remaining", ReportFormat.count(progress.remaining), "remaining (source users not yet linked)")
        out += Self.number(id: "remaining-share", ReportFormat.share(progress.remainingShare), "of source users still to move")
        out += "</div>"
        let asOf = HTML.escape(ReportFormat.time(progress.remainingAsOf))
        switch progress.remainingSource {
        case .reconciliation:
            let run = progress.reconciliationRun.map { " " + Self.code(ReportFormat.id($0)) } ?? ""
            out += #"<p class="muted">Remaining as of \#(asOf): the reconciliation run\#(run) "#
            out += "read the pools then; links made since are taken off.</p>"
        case .map:
            out += #"<p class="muted">Remaining as of \#(asOf), from the map alone (no reconciliation of this campaign yet): "#
            out += "source people without an active target identity. Run <code>stableid reconcile</code> for Cognito's count.</p>"
        }
        out += #"<table id="links-by-path"><thead><tr><th>Path</th><th class="n">Links</th></tr></thead><tbody>"#
        for path in LinkPath.allCases {
            out += "<tr><td>" + HTML.escape(path.rawValue) + #"</td><td class="n">"#
            out += ReportFormat.count(progress.totals[path] ?? 0) + "</td></tr>"
        }
        return out + "</tbody></table>"
    }

    static func fact(_ label: String, _ valueHTML: String) -> String {
        "<dt>" + HTML.escape(label) + "</dt><dd>" + valueHTML + "</dd>"
    }

    static func number(id: String, _ value: String, _ label: String) -> String {
        #"<div class="number" id="\#(HTML.escape(id))"><div class="value">\#(HTML.escape(value))</div>"#
            + #"<div class="label">\#(HTML.escape(label))</div></div>"#
    }

    static func code(_ text: String) -> String {
        "<code>" + HTML.escape(text) + "</code>"
    }
}

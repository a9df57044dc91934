import Foundation
import IdentityMap
import UserMigration

extension ReportPage {
    /// The person lookup: a form posting to the campaign's lookup route (POST, so an email never
    /// lands in a URL, a log or the browser's history) with the session's CSRF token, and the
    /// history of whoever it found. The file has no session to post with: it says where to look.
    func lookupSection() -> String {
        var out = #"<h2 id="lookup">Person lookup</h2>"#
        guard let forms else {
            return out + #"<p class="muted" id="lookup-unavailable">The person lookup (stable ID, sub or email → history) works on "#
                + "the served page: sign in at <code>" + HTML.escape(ReportPaths.campaign(campaign.id)) + "</code> on StableID.</p>"
        }
        out += #"<form class="lookup" method="post" action="\#(HTML.escape(ReportPaths.lookup(campaign.id)))">"#
        out += ReportDocument.hiddenCSRF(forms.lookupToken)
        out += #"<label>Stable ID, sub or email<input type="text" name="query" required maxlength="320" autocomplete="off" "#
        out += #"spellcheck="false"></label><button type="submit">Look up</button></form>"#
        guard let lookup else { return out }
        out += #"<section id="lookup-result">"#
        switch lookup.outcome {
        case .invalid(let message):
            out += #"<p class="error">\#(HTML.escape(message))</p>"#
        case .notFound:
            out += "<p>No person has that stable ID, sub (in this campaign's pools) or email.</p>"
        case .found(let people):
            out += people.map(Self.history).joined()
        }
        return out + "</section>"
    }

    /// One person: their identities, then their events (time, kind, pool, path, actor).
    static func history(_ person: PersonHistory) -> String {
        let user = person.user
        var out = #"<article class="person" data-user="\#(ReportFormat.id(user.id))">"#
        out += "<h3>Stable ID " + code(ReportFormat.id(user.id)) + " (" + HTML.escape(user.status.rawValue) + ")</h3>"
        if let asked = user.requestedID {
            out += #"<p class="muted">\#(code(ReportFormat.id(asked))) was merged into this person.</p>"#
        }
        out += "<table><thead><tr><th>Pool</th><th>Sub</th><th>Status</th><th>Path</th><th>Linked</th></tr></thead><tbody>"
        for identity in user.identities {
            out += "<tr><td>" + code(identity.pool.rawValue) + "</td><td>" + code(identity.sub) + "</td>"
            out += "<td>" + HTML.escape(identity.status.rawValue) + "</td><td>" + HTML.escape(identity.via?.rawValue ?? "–") + "</td>"
            out += "<td>" + HTML.escape(ReportFormat.time(identity.linkedAt)) + "</td></tr>"
        }
        out += "</tbody></table>"
        out += #"<table class="events"><thead><tr><th>Time</th><th>Event</th><th>Pool</th><th>Path</th><th>Actor</th></tr></thead><tbody>"#
        for event in person.events {
            out += "<tr><td>" + HTML.escape(ReportFormat.time(event.occurredAt)) + "</td><td>" + HTML.escape(event.kind) + "</td>"
            out += "<td>" + HTML.escape(event.poolID ?? "–") + "</td><td>" + HTML.escape(via(of: event) ?? "–") + "</td>"
            out += "<td>" + HTML.escape(event.actor) + "</td></tr>"
        }
        out += "</tbody></table>"
        if person.hasMore {
            out += #"<p class="muted">Older events first; more follow: <code>stableid audit export --user "#
            out += HTML.escape(ReportFormat.id(user.id)) + "</code> lists them all.</p>"
        }
        return out + "</article>"
    }

    /// The link path an event names in its details (`identity_linked`, the migration events).
    static func via(of event: AuditEvent) -> String? {
        guard case .object(let details) = event.details, case .string(let via)? = details["via"] else { return nil }
        return via
    }
}

import IdentityMap
public import UserMigration

/// The served list of campaigns, each linking to its report.
public struct CampaignListPage: Sendable {
    public var campaigns: [Campaign]
    public var signOutToken: String

    public init(campaigns: [Campaign], signOutToken: String) {
        self.campaigns = campaigns
        self.signOutToken = signOutToken
    }

    public func html() -> String {
        var body = "<h1>Campaigns</h1>"
        if campaigns.isEmpty {
            body += #"<p class="empty">No campaign yet: <code>stableid campaign create</code> makes one.</p>"#
        } else {
            body += #"<table id="campaigns"><thead><tr><th>Campaign</th><th>Phase</th><th>Target</th><th>Sources</th>"#
            body += "<th>Created</th></tr></thead><tbody>"
            for campaign in campaigns {
                let link = HTML.escape(ReportPaths.campaign(campaign.id))
                body += #"<tr><td><a href="\#(link)">\#(HTML.escape(campaign.name))</a></td>"#
                let sources = campaign.sources.map { "<code>" + HTML.escape($0.pool.rawValue) + "</code>" }.joined(separator: ", ")
                body += "<td>" + HTML.escape(campaign.phase.rawValue) + "</td><td><code>" + HTML.escape(campaign.target.rawValue)
                body += "</code></td><td>" + sources + "</td><td>" + HTML.escape(ReportFormat.time(campaign.createdAt)) + "</td></tr>"
            }
            body += "</tbody></table>"
        }
        return ReportDocument.render(title: "Campaigns", signOutToken: signOutToken, body: body)
    }
}

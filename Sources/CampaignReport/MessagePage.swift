/// A short page that says what went wrong and where to go next: a refused form (no or a wrong
/// CSRF token), a missing campaign, a failure. The text is the caller's, escaped like all else.
public struct MessagePage: Sendable {
    public var title: String
    public var message: String
    /// A link onwards: (label, local path).
    public var link: (label: String, path: String)?

    public init(title: String, message: String, link: (label: String, path: String)? = nil) {
        self.title = title
        self.message = message
        self.link = link
    }

    public func html() -> String {
        var body = "<h1>" + HTML.escape(title) + "</h1><p>" + HTML.escape(message) + "</p>"
        if let link {
            body += #"<p><a href="\#(HTML.escape(link.path))">\#(HTML.escape(link.label))</a></p>"#
        }
        return ReportDocument.render(title: title, body: body)
    }
}

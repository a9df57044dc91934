/// The one escaping function of the report pages: every text that comes from data — a campaign's
/// name, a pool, a sub, an actor, a form's token — goes through it, in element text and in quoted
/// attribute values alike, so no value can open a tag, close an attribute or start a script.
public enum HTML {
    public static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // A NUL is a parse error in HTML; the replacement character is what a parser makes of it.
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

public import Foundation

/// The report's routes, spelled once for the links and forms the pages carry and the redirects
/// the server answers.
public enum ReportPaths {
    /// Every report route lies under it; the session cookies are scoped to it.
    public static let root = "/report"
    public static let login = "/report/login"
    public static let logout = "/report/logout"
    public static let campaigns = "/report/campaigns"

    public static func campaign(_ id: UUID) -> String {
        campaigns + "/" + ReportFormat.id(id)
    }

    public static func lookup(_ id: UUID) -> String {
        campaign(id) + "/lookup"
    }

    /// Whether `path` is a page a sign-in may send the browser back to: a local report path, so
    /// the `next` of a sign-in can never redirect to another site (`//host`, `/\host`, a scheme)
    /// or outside the report.
    public static func isSafeReturn(_ path: String) -> Bool {
        guard path.hasPrefix(root + "/"), path.utf8.count <= 512 else { return false }
        return path.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && scalar.value > 0x20 && scalar.value < 0x7F && !"\\\"'<>`".unicodeScalars.contains(scalar)
        } && !path.contains("//") && !path.contains("/../") && !path.hasSuffix("/..")
    }
}

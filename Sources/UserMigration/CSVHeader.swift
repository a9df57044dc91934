/// The header of a Cognito user-import CSV: the columns an import job into one pool expects.
///
/// Cognito's own answer is `GetCSVHeader`. Where that cannot be asked (moto answers 500; a role
/// without `cognito-idp:GetCSVHeader`), the header is derived from the pool's `DescribeUserPool`
/// schema the way `GetCSVHeader` builds it, in the order AWS documents for a pool with no custom
/// attributes ("Creating the user import CSV file" in the Cognito developer guide):
///
/// `name, given_name, family_name, middle_name, nickname, preferred_username, profile, picture,
/// website, email, email_verified, gender, birthdate, zoneinfo, locale, phone_number,
/// phone_number_verified, address, updated_at, cognito:mfa_enabled, cognito:username`
///
/// — the standard attributes but `sub` and `identities` (Cognito sets those), then the pool's
/// custom attributes as `custom:x` (after the standard ones, as Cognito lists them), then the two
/// `cognito:` columns. An import job reads columns by name, not position; the order is kept only so
/// that the derived header equals the one Cognito would give.
public enum CSVHeader {
    /// Every pool has these, in `GetCSVHeader`'s order.
    public static let standardAttributes = [
        "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "email",
        "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
    ]

    /// Cognito's own columns, last.
    public static let cognitoColumns = ["cognito:mfa_enabled", "cognito:username"]

    /// Attributes a schema lists that an import never takes.
    static let notImported: Set<String> = ["sub", "identities"]

    /// The header for a pool whose `DescribeUserPool` lists `schemaAttributeNames` (in its order).
    /// Standard attributes missing from the list are still columns: every pool has them, and a
    /// schema read that names only custom attributes (moto's) must not lose them.
    public static func derive(schemaAttributeNames: [String]) -> [String] {
        var custom: [String] = []
        for name in schemaAttributeNames where !notImported.contains(name) && !standardAttributes.contains(name) {
            // Developer-only attributes (`dev:custom:x`) are written by administrators alone and
            // listed by `GetCSVHeader` under their plain name; anything else unknown is kept as is.
            let column = name.hasPrefix("dev:") ? String(name.dropFirst("dev:".count)) : name
            if !custom.contains(column) { custom.append(column) }
        }
        return standardAttributes + custom + cognitoColumns
    }

    /// Why a header cannot be used for this campaign, or nil: it must name Cognito's columns and
    /// the stable-ID attribute (else imported users could not link themselves at first sign-in).
    public static func problem(in header: [String], stableIDAttribute: String?) -> String? {
        for column in cognitoColumns where !header.contains(column) {
            return "the target pool's CSV header has no \(column) column"
        }
        if let attribute = stableIDAttribute, !header.contains(attribute) {
            return "the target pool has no \(attribute) attribute: add it to the pool before exporting"
        }
        return nil
    }
}

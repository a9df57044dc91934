import Foundation

/// Email matching rules.
///
/// Two addresses are the same person's when their normalized forms are equal: surrounding white space
/// removed, Unicode compatibility-normalized (NFKC, so full-width and composed/decomposed forms agree)
/// and lower-cased. Provider-specific rules (dots or `+tags` in Gmail) are deliberately *not* applied:
/// they would merge different people at other providers.
public enum EmailAddress {
    /// `raw` when it is an email address (as given, for display), nil when it is not.
    public static func valid(_ raw: String) -> String? {
        normalize(raw) == nil ? nil : raw
    }

    public static func normalize(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let normalized = trimmed.precomposedStringWithCompatibilityMapping.lowercased()
            .precomposedStringWithCompatibilityMapping
        guard normalized.utf8.count <= 320 else { return nil }
        let parts = normalized.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
            normalized.unicodeScalars.allSatisfy({
                !$0.properties.isWhitespace && !$0.properties.generalCategory.isControlOrFormat
            })
        else { return nil }
        return normalized
    }
}

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
        var raw = raw
        switch raw.withUTF8(normalizeASCII) {
        case .normalized(let text): return text
        case .invalid: return nil
        case .notASCII: return normalizeUnicode(raw)
        }
    }

    enum ASCIIOutcome: Equatable {
        case normalized(String)
        case invalid
        case notASCII
    }

    /// Nearly every address is ASCII, where NFKC changes nothing and lower-casing is per byte:
    /// the same answer as ``normalizeUnicode(_:)`` without Foundation's normalization, which
    /// cost more than the rest of staging a user (reconciliation stages millions).
    static func normalizeASCII(_ utf8: UnsafeBufferPointer<UInt8>) -> ASCIIOutcome {
        var start = 0
        var end = utf8.count
        if utf8.contains(where: { $0 >= 0x80 }) { return .notASCII }
        // `whitespacesAndNewlines` within ASCII: tab, line feed, vertical tab, form feed, carriage return, space.
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        while start < end, isSpace(utf8[start]) { start += 1 }
        while end > start, isSpace(utf8[end - 1]) { end -= 1 }
        guard end - start <= 320 else { return .invalid }
        var at: Int?
        for position in start..<end {
            let byte = utf8[position]
            // Whitespace and control characters are refused; `@` must occur exactly once.
            if byte <= 0x20 || byte == 0x7F { return .invalid }
            if byte == UInt8(ascii: "@") {
                guard at == nil else { return .invalid }
                at = position
            }
        }
        guard let at, at > start, at < end - 1 else { return .invalid }
        let text = String(unsafeUninitializedCapacity: end - start) { out in
            for position in start..<end {
                let byte = utf8[position]
                out[position - start] = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
            }
            return end - start
        }
        return .normalized(text)
    }

    /// NFKC, lower case, NFKC again (lower-casing can leave a string that NFKC changes).
    static func normalizeUnicode(_ raw: String) -> String? {
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

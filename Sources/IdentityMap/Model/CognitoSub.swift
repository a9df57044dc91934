/// The `sub` of a Cognito user: always a UUID, which the pool mints and never changes.
///
/// Anything else in a `sub` field is a caller's mistake (most often a username) that would
/// poison the map, so it is refused at the boundary. Stored and compared in lower case, the form
/// Cognito issues; checked on bytes because this runs on every lookup.
public enum CognitoSub {
    /// The canonical (lower-case) form of `text`, or nil when it is not a UUID `8-4-4-4-12`.
    public static func canonical(_ text: some StringProtocol) -> String? {
        // Over contiguous UTF-8: a generic walk of `utf8` costs a metadata lookup per character,
        // which was a third of a 1,000-item batch lookup's time.
        if let canonical = text.utf8.withContiguousStorageIfAvailable({ canonical(utf8: $0) }) { return canonical }
        var string = String(text)
        return string.withUTF8 { canonical(utf8: $0) }
    }

    /// ``canonical(_:)`` of a `String`: nearly every sub arrives canonical already, and is then
    /// returned as it is, with no second allocation.
    public static func canonical(_ text: String) -> String? {
        var string = text
        switch string.withUTF8(Self.form) {
        case .canonical: return string
        case .upperCase: return string.withUTF8 { canonical(utf8: $0) }
        case .invalid: return nil
        }
    }

    private enum Form {
        case canonical, upperCase, invalid
    }

    private static func form(_ utf8: UnsafeBufferPointer<UInt8>) -> Form {
        guard utf8.count == 36 else { return .invalid }
        var upperCase = false
        for index in 0..<36 {
            let byte = utf8[index]
            switch index {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return .invalid }
            default:
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): continue
                case UInt8(ascii: "A")...UInt8(ascii: "F"): upperCase = true
                default: return .invalid
                }
            }
        }
        return upperCase ? .upperCase : .canonical
    }

    static func canonical(utf8: UnsafeBufferPointer<UInt8>) -> String? {
        guard utf8.count == 36 else { return nil }
        var valid = true
        let text = String(unsafeUninitializedCapacity: 36) { out in
            for index in 0..<36 {
                let byte = utf8[index]
                switch index {
                case 8, 13, 18, 23:
                    guard byte == UInt8(ascii: "-") else {
                        valid = false
                        return 0
                    }
                    out[index] = byte
                default:
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): out[index] = byte
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): out[index] = byte + 32
                    default:
                        valid = false
                        return 0
                    }
                }
            }
            return 36
        }
        return valid ? text : nil
    }

    /// ``canonical(_:)`` or a refusal naming `field`.
    public static func validated(_ text: some StringProtocol, field: String = "sub") throws(IdentityMapError) -> String {
        guard let sub = canonical(text) else {
            throw .invalidSub(field: field)
        }
        return sub
    }
}

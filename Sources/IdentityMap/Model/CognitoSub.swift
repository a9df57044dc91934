/// The `sub` of a Cognito user: always a UUID, which the pool mints and never changes.
///
/// Anything else in a `sub` field is a caller's mistake (most often a username) that would
/// poison the map, so it is refused at the boundary. Stored and compared in lower case, the form
/// Cognito issues; checked on bytes because this runs on every lookup.
public enum CognitoSub {
    /// The canonical (lower-case) form of `text`, or nil when it is not a UUID `8-4-4-4-12`.
    public static func canonical(_ text: some StringProtocol) -> String? {
        let utf8 = text.utf8
        guard utf8.count == 36 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in utf8.enumerated() {
            switch index {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return nil }
                out.append(byte)
            default:
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(byte)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(byte + 32)
                default: return nil
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// ``canonical(_:)`` or a refusal naming `field`.
    public static func validated(_ text: some StringProtocol, field: String = "sub") throws(IdentityMapError) -> String {
        guard let sub = canonical(text) else {
            throw .invalidSub(field: field)
        }
        return sub
    }
}

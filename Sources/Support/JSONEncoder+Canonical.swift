public import Foundation

extension JSONEncoder {
    /// The encoder for JSON that is hashed, compared or shown: sorted keys make equal values encode
    /// to equal bytes (idempotency fingerprints, event details, stored answers replayed later), and
    /// unescaped slashes keep URLs and pool paths readable and match the hand-written `JSONWriter`.
    ///
    /// A new encoder per call, because `JSONEncoder` is a mutable class and not `Sendable`.
    public static func sortedKeys() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

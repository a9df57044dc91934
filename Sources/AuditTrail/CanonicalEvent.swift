import CryptoPrimitives

/// The exact bytes an event contributes to the chain (version 1; docs/AUDIT.md).
///
/// Every field is written as `<decimal byte length>:<UTF-8 bytes>\n` after the line
/// `stableid-event-v1\n`, in this order: seq, event id, occurred_at (UTC, microseconds,
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`), actor, kind, user id (lower-case), pool id, sub, details (the
/// text PostgreSQL prints for the jsonb), request id, personal digest (lower-case hex). Absent
/// values are empty. Length prefixes make the encoding unambiguous whatever the fields contain.
public struct CanonicalEvent: Sendable, Equatable {
    public var seq: Int64
    public var eventID: Int64
    public var occurredAt: String
    public var actor: String
    public var kind: String
    public var userID: String
    public var poolID: String
    public var sub: String
    public var details: String
    public var requestID: String
    public var personalDigest: [UInt8]?

    public static let genesis = [UInt8](repeating: 0, count: 32)

    public var bytes: [UInt8] {
        var out = Array("stableid-event-v1\n".utf8)
        for field in [
            String(seq), String(eventID), occurredAt, actor, kind, userID, poolID, sub, details, requestID,
            personalDigest.map(Self.hex) ?? "",
        ] {
            let utf8 = Array(field.utf8)
            out += Array("\(utf8.count):".utf8)
            out += utf8
            out.append(0x0A)
        }
        return out
    }

    /// hash(n) = SHA-256(hash(n-1) ‖ canonical bytes(n)); hash(0) is 32 zero bytes.
    public func chainHash(previous: [UInt8]) -> [UInt8] {
        SHA256.hash(previous + bytes)
    }

    /// SHA-256(salt ‖ personal data text): binds personal data to the chain without revealing it.
    public static func personalDigest(salt: [UInt8], data: String) -> [UInt8] {
        SHA256.hash(salt + Array(data.utf8))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}

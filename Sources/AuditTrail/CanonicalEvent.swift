import CryptoPrimitives
import Support

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

    public init(
        seq: Int64, eventID: Int64, occurredAt: String, actor: String, kind: String, userID: String, poolID: String, sub: String,
        details: String, requestID: String, personalDigest: [UInt8]?
    ) {
        self.seq = seq
        self.eventID = eventID
        self.occurredAt = occurredAt
        self.actor = actor
        self.kind = kind
        self.userID = userID
        self.poolID = poolID
        self.sub = sub
        self.details = details
        self.requestID = requestID
        self.personalDigest = personalDigest
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    static let header = Array("stableid-event-v1\n".utf8)

    func append(to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 160 + details.utf8.count)
        out += Self.header
        func field(_ value: String) {
            var value = value
            value.withUTF8 { Self.appendField(UnsafeRawBufferPointer($0), to: &out) }
        }
        Self.appendField(seq, to: &out)
        Self.appendField(eventID, to: &out)
        field(occurredAt)
        field(actor)
        field(kind)
        field(userID)
        field(poolID)
        field(sub)
        field(details)
        field(requestID)
        field(personalDigest.map { Hex.encode($0) } ?? "")
    }

    /// `<decimal byte length>:<bytes>\n`, the one spelling of a field (shared with the verifier's
    /// fast path, which writes fields straight from PostgreSQL's binary values).
    static func appendField(_ value: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendDecimal(value.count, to: &out)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: value)
        out.append(0x0A)
    }

    /// A number field: its decimal digits as the field's bytes.
    static func appendField(_ value: Int64, to out: inout [UInt8]) {
        var length = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            length += 1
        }
        appendDecimal(length, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDecimal(Int(value), to: &out)
        out.append(0x0A)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendDecimal(-value, to: &out)
            return
        }
        if value >= 10 { appendDecimal(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// hash(n) = SHA-256(hash(n-1) ‖ canonical bytes(n)); hash(0) is 32 zero bytes.
    public func chainHash(previous: [UInt8]) -> [UInt8] {
        var input = previous
        append(to: &input)
        return SHA256.hash(input)
    }

    /// SHA-256(salt ‖ personal data text): binds personal data to the chain without revealing it.
    public static func personalDigest(salt: [UInt8], data: String) -> [UInt8] {
        SHA256.hash(salt + Array(data.utf8))
    }
}

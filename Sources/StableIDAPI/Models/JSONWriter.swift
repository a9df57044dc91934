import Foundation
import IdentityMap
import Support

/// A minimal JSON writer for the lookup hot path, where Foundation's `JSONEncoder` was most of the
/// handler's CPU time. Produces the same document `JSONEncoder` with `.sortedKeys` would
/// (`ResolutionJSON`), which a test checks.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        // Runs of bytes that need no escape (nearly all of them) are copied at once.
        value.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                escape(byte)
                start = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
        case 0x0A: bytes.append(contentsOf: [92, 110])
        case 0x0D: bytes.append(contentsOf: [92, 114])
        case 0x09: bytes.append(contentsOf: [92, 116])
        case 0x08: bytes.append(contentsOf: [92, 98])
        case 0x0C: bytes.append(contentsOf: [92, 102])
        default:
            bytes.append(contentsOf: [92, 117, 48, 48])  // \u00
            Hex.appendEncoded(byte, to: &bytes)
        }
    }

    /// A time as an RFC 3339 string, written straight into the output.
    mutating func time(_ value: Date) {
        bytes.append(UInt8(ascii: "\""))
        RFC3339.append(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    mutating func uuid(_ value: UUID) {
        bytes.append(UInt8(ascii: "\""))
        withUnsafeBytes(of: value.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { bytes.append(UInt8(ascii: "-")) }
                Hex.appendEncoded(byte, to: &bytes)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `{"identity":{…},"status":…,"user_id":…}`, keys sorted like the rest of the API's answers.
    static func resolution(_ resolution: Resolution) -> [UInt8] {
        var writer = JSONWriter()
        writer.resolution(resolution)
        return writer.bytes
    }

    mutating func resolution(_ resolution: Resolution) {
        raw("{\"identity\":")
        identity(resolution.identity)
        raw(",\"status\":")
        string(resolution.userStatus.rawValue)
        raw(",\"user_id\":")
        uuid(resolution.userID)
        raw("}")
    }

    /// The batch answer (`BatchResolveResponse`): `{"errors":[…],"results":[…]}`, `errors` only
    /// when an item was refused. A thousand answers through `JSONEncoder` cost milliseconds.
    static func batch(_ results: [Resolution?], errors: [BatchResolveResponse.ItemError]) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + results.count * 360)
        writer.raw("{")
        if !errors.isEmpty {
            writer.raw("\"errors\":[")
            for (position, error) in errors.enumerated() {
                if position > 0 { writer.raw(",") }
                writer.raw("{\"code\":")
                writer.string(error.code)
                writer.raw(",\"detail\":")
                writer.string(error.detail)
                writer.raw(",\"index\":")
                writer.bytes.append(contentsOf: String(error.index).utf8)
                writer.raw("}")
            }
            writer.raw("],")
        }
        writer.raw("\"results\":[")
        for (position, result) in results.enumerated() {
            if position > 0 { writer.raw(",") }
            if let result { writer.resolution(result) } else { writer.raw("null") }
        }
        writer.raw("]}")
        return writer.bytes
    }

    mutating func identity(_ identity: Identity) {
        if let email = identity.email {
            raw("{\"email\":")
            string(email)
            raw(",\"email_verified\":")
        } else {
            raw("{\"email_verified\":")
        }
        bool(identity.emailVerified)
        raw(",\"linked_at\":")
        time(identity.linkedAt)
        raw(",\"pool\":")
        string(identity.pool.rawValue)
        raw(",\"provider\":")
        string(identity.provider)
        raw(",\"status\":")
        string(identity.status.rawValue)
        raw(",\"sub\":")
        string(identity.sub)
        if let unlinkedAt = identity.unlinkedAt {
            raw(",\"unlinked_at\":")
            time(unlinkedAt)
        }
        raw(",\"username\":")
        string(identity.username)
        if let via = identity.via {
            raw(",\"via\":")
            string(via.rawValue)
        }
        raw("}")
    }
}

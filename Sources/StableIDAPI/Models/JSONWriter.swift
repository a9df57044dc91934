import Foundation
import IdentityMap
import LookupCache
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
        var value = value
        value.withUTF8 { string(utf8: $0) }
    }

    /// A JSON string from UTF-8: runs of bytes that need no escape (nearly all of them) are
    /// copied at once.
    mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
            escape(byte)
            start = index + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
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
        // Written into 38 bytes on the stack and appended once: a thousand-item batch writes
        // two thousand of these.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 38) { out in
            let digits: StaticString = "0123456789abcdef"
            let digit = digits.utf8Start
            out[0] = UInt8(ascii: "\"")
            var position = 1
            withUnsafeBytes(of: value.uuid) { raw in
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    out[position] = digit[Int(raw[index] >> 4)]
                    out[position + 1] = digit[Int(raw[index] & 0x0F)]
                    position += 2
                }
            }
            out[37] = UInt8(ascii: "\"")
            bytes.append(contentsOf: UnsafeBufferPointer(out))
        }
    }

    /// An enumeration's raw value, which needs no escape: copied as is.
    mutating func plainString(_ value: String) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { bytes.append(contentsOf: $0) }
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
        plainString(resolution.userStatus.rawValue)
        raw(",\"user_id\":")
        uuid(resolution.userID)
        raw("}")
    }

    /// The batch answer (`BatchResolveResponse`): `{"errors":[…],"results":[…]}`, `errors` only
    /// when an item was refused. A thousand answers through `JSONEncoder` cost milliseconds.
    static func batch(_ results: [Resolution?], errors: [BatchResolveResponse.ItemError]) -> [UInt8] {
        var writer = batchOpening(errors: errors, capacity: 64 + results.count * 360)
        writer.results(results[...])
        writer.raw("]}")
        return writer.bytes
    }

    /// The same document, a large batch's two halves written on two cores at once: the answer
    /// is most of a big batch's time, and a request's latency is what its caller waits for.
    static func batchConcurrently(_ results: [Resolution?], errors: [BatchResolveResponse.ItemError]) async -> [UInt8] {
        guard results.count >= 256 else { return batch(results, errors: errors) }
        let middle = results.count / 2
        async let secondHalf: [UInt8] = {
            var writer = JSONWriter(capacity: (results.count - middle) * 360)
            writer.results(results[middle...])
            return writer.bytes
        }()
        var writer = batchOpening(errors: errors, capacity: 64 + results.count * 360)
        writer.results(results[..<middle])
        writer.raw(",")
        writer.bytes += await secondHalf
        writer.raw("]}")
        return writer.bytes
    }

    /// `{` and the errors, up to and including `"results":[`.
    private static func batchOpening(errors: [BatchResolveResponse.ItemError], capacity: Int) -> JSONWriter {
        var writer = JSONWriter(capacity: capacity)
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
        return writer
    }

    /// The answers, comma-separated, `null` for none.
    private mutating func results(_ results: ArraySlice<Resolution?>) {
        var first = true
        for result in results {
            if !first { raw(",") }
            first = false
            if let result { resolution(result) } else { raw("null") }
        }
    }

    mutating func identity(_ identity: Identity) {
        identityFields(
            email: identity.email.map(Text.string), emailVerified: identity.emailVerified, linkedAt: identity.linkedAt,
            pool: identity.pool.rawValue, provider: identity.provider, status: identity.status, sub: identity.sub,
            unlinkedAt: identity.unlinkedAt, username: .string(identity.username), via: identity.via
        )
    }

    /// The same object as ``resolution(_:)`` from an answer read in place in the lookup cache.
    mutating func answer(_ answer: StoredAnswer) {
        raw("{\"identity\":")
        identityFields(
            email: answer.email.map(Text.utf8), emailVerified: answer.emailVerified, linkedAt: answer.linkedAt,
            pool: answer.pool.rawValue, provider: answer.provider, status: answer.status, sub: answer.sub,
            unlinkedAt: answer.unlinkedAt, username: .utf8(answer.username), via: answer.via
        )
        raw(",\"status\":")
        plainString(answer.userStatus.rawValue)
        raw(",\"user_id\":")
        uuid(answer.userID)
        raw("}")
    }

    /// Text to write as a JSON string: a `String`, or UTF-8 borrowed from the lookup cache.
    enum Text {
        case string(String)
        case utf8(UnsafeRawBufferPointer)
    }

    mutating func text(_ text: Text) {
        switch text {
        case .string(let value): string(value)
        case .utf8(let bytes): string(utf8: bytes.bindMemory(to: UInt8.self))
        }
    }

    /// The identity object, keys sorted: one spelling for both kinds of answer.
    private mutating func identityFields(
        email: Text?, emailVerified: Bool, linkedAt: Date, pool: String, provider: String, status: IdentityStatus, sub: String,
        unlinkedAt: Date?, username: Text, via: LinkPath?
    ) {
        if let email {
            raw("{\"email\":")
            text(email)
            raw(",\"email_verified\":")
        } else {
            raw("{\"email_verified\":")
        }
        bool(emailVerified)
        raw(",\"linked_at\":")
        time(linkedAt)
        raw(",\"pool\":")
        string(pool)
        raw(",\"provider\":")
        string(provider)
        raw(",\"status\":")
        plainString(status.rawValue)
        raw(",\"sub\":")
        string(sub)
        if let unlinkedAt {
            raw(",\"unlinked_at\":")
            time(unlinkedAt)
        }
        raw(",\"username\":")
        text(username)
        if let via {
            raw(",\"via\":")
            plainString(via.rawValue)
        }
        raw("}")
    }
}

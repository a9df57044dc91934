import Cognito
import Foundation
import IdentityMap
import LookupCache
import Support

/// A minimal JSON writer for the lookup hot path, where Foundation's `JSONEncoder` was most of the
/// handler's CPU time. Produces the same document `JSONEncoder` with `.sortedKeys` would
/// (`ResolutionJSON`), which a test checks.
struct JSONWriter: AnswerSink {
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

    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        string(utf8: utf8.bindMemory(to: UInt8.self))
    }

    /// A JSON string from UTF-8, escaped as ``JSONString`` spells it.
    mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        JSONString.append(utf8: utf8, to: &bytes)
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
            out[0] = UInt8(ascii: "\"")
            withUnsafeBytes(of: value.uuid) { Hex.writeUUID($0, into: out.baseAddress! + 1) }
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

    /// `token`: the token lookup's answer, the verified claims under `token` (``answer(_:token:)``).
    mutating func resolution(_ resolution: Resolution, token: VerifiedToken? = nil) {
        let identity = resolution.identity
        var username = identity.username
        func fields(_ username: UnsafeBufferPointer<UInt8>, _ email: UnsafeBufferPointer<UInt8>?) -> StoredAnswer {
            StoredAnswer(
                userID: resolution.userID, userStatus: resolution.userStatus, pool: identity.pool, sub: identity.sub,
                username: UnsafeRawBufferPointer(username), email: email.map(UnsafeRawBufferPointer.init),
                emailVerified: identity.emailVerified, provider: identity.provider, status: identity.status,
                linkedAt: identity.linkedAt, unlinkedAt: identity.unlinkedAt, via: identity.via
            )
        }
        if var email = identity.email {
            email.withUTF8 { email in username.withUTF8 { username in answer(fields(username, email), token: token) } }
        } else {
            username.withUTF8 { username in answer(fields(username, nil), token: token) }
        }
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

}

import Support

/// Writes a trigger event's answer straight from the event's bytes, exactly as
/// ``TriggerJSON/jsonText`` writes the decoded event — compact, object keys sorted, strings as
/// Support's `JSONString` spells them — with chosen members replaced on the way (``Patch``).
/// The fast path of the token answers (``TokenGenerationEvent``), which must be byte for byte
/// what the general path (`CognitoTriggerEvent(data:)`, then `answering…`) writes.
///
/// What it copies, it copies as the general path would write it back: a string without escapes
/// is its own bytes (the scanner checked them: UTF-8, no raw quote or control byte, so
/// `JSONString` writes the same bytes); a string with escapes is decoded and written again through
/// `JSONString`; `true`, `false` and `null` are their words; an object's members go out in byte
/// order of their keys, which for ASCII keys is the order of Swift's `String` comparison.
///
/// It refuses (nil) a document whose general-path text it cannot tell from the bytes alone —
/// anywhere in it, in the parts a patch replaces too (the general path decodes those as well):
/// - a number: the general path's decoder chooses between integer and double and prints either
///   its own way (`1.0`, `1e2`, integers past Int64); Cognito's token events carry none;
/// - a key with an escape or a byte past ASCII: Swift compares and sorts those by Unicode rules
///   (canonical equivalence), not by bytes; every key Cognito writes is ASCII;
/// - a key twice in one object: which one a decoder keeps is its own business;
/// - nesting deeper than ``maxDepth``, a document that is not one object, anything after it but
///   whitespace, and (through `JSONScanner`, strict) any text that is not RFC 8259 JSON.
struct TriggerJSONRewriter {
    /// What to write instead of parts of the document.
    indirect enum Patch: Sendable {
        /// An object: the members of the original (none when it is not an object, `null` or
        /// absent), each member a `key` names written as its patch makes it, added when absent —
        /// what assigning into the `[String: TriggerJSON]` of the original does. Keys are string
        /// literals of two characters or more (held as pointers: see ``Member``).
        case object([(key: StaticString, patch: Patch)])
        /// The string the rewrite was given (the stable ID), whatever the original was.
        case value
    }

    /// Any reason to leave the document to the general path.
    struct Refused: Error {}

    static let maxDepth = 64

    /// One member of an object being written.
    private struct Member {
        /// The key's bytes: in the body, or a patch key's static text (`utf8Start`, which traps
        /// rather than dangles for a one-character literal).
        var key: UnsafeRawBufferPointer
        /// Where the member's value starts in the body; nil for a member a patch adds.
        var value: Int?
        var patch: Patch?
    }

    private var scanner: JSONScanner
    /// What ``Patch/value`` writes.
    private let value: String

    private init(_ body: UnsafeRawBufferPointer, value: String) {
        self.scanner = JSONScanner(body)
        self.value = value
    }

    /// `body`, a JSON object, rewritten with `patch` applied to it; nil when refused.
    static func rewrite(_ body: UnsafeRawBufferPointer, patch: Patch, value: String) -> [UInt8]? {
        var rewriter = TriggerJSONRewriter(body, value: value)
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 160)
        do {
            guard rewriter.scanner.skipWhitespace() == JSONByte.openBrace else { return nil }
            try rewriter.write(depth: 0, patch: patch, into: &out)
            guard rewriter.scanner.skipWhitespace() == nil else { return nil }
        } catch {
            return nil
        }
        return out
    }

    // MARK: Values

    /// Writes the value at the scanner as `patch` makes it (copied when nil) and leaves the
    /// scanner after it. A value a patch replaces is still read through, into a discarded buffer:
    /// the general path decodes it too, so it must pass the same checks.
    private mutating func write(depth: Int, patch: Patch?, into out: inout [UInt8]) throws {
        guard depth <= Self.maxDepth else { throw Refused() }
        switch patch {
        case nil:
            try copy(depth: depth, into: &out)
        case .value?:
            var discarded: [UInt8] = []
            try copy(depth: depth, into: &discarded)
            appendValue(to: &out)
        case .object(let patches)?:
            if scanner.skipWhitespace() == JSONByte.openBrace {
                try writeObject(depth: depth, original: true, patches: patches, into: &out)
            } else {
                var discarded: [UInt8] = []
                try copy(depth: depth, into: &discarded)
                try writeObject(depth: depth, original: false, patches: patches, into: &out)
            }
        }
    }

    /// Writes what `patch` makes of an absent member.
    private mutating func writeAbsent(depth: Int, patch: Patch, into out: inout [UInt8]) throws {
        switch patch {
        case .value: appendValue(to: &out)
        case .object(let patches): try writeObject(depth: depth, original: false, patches: patches, into: &out)
        }
    }

    /// Copies the value at the scanner as the general path writes it back.
    private mutating func copy(depth: Int, into out: inout [UInt8]) throws {
        guard depth <= Self.maxDepth, let byte = scanner.skipWhitespace() else { throw Refused() }
        switch byte {
        case JSONByte.openBrace:
            try writeObject(depth: depth, original: true, patches: [], into: &out)
        case JSONByte.openBracket:
            _ = scanner.consume(JSONByte.openBracket)
            out.append(JSONByte.openBracket)
            var first = true
            while try scanner.nextElement(first: first) {
                if !first { out.append(JSONByte.comma) }
                first = false
                try copy(depth: depth + 1, into: &out)
            }
            out.append(JSONByte.closeBracket)
        case JSONByte.quote:
            try copyString(into: &out)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            switch try scanner.readLiteral() {
            case true?: out.append(contentsOf: "true".utf8)
            case false?: out.append(contentsOf: "false".utf8)
            case nil: out.append(contentsOf: "null".utf8)
            }
        default:
            // A number (see the type's notes), or not JSON at all.
            throw Refused()
        }
    }

    private mutating func copyString(into out: inout [UInt8]) throws {
        let start = scanner.index
        try scanner.skipString()
        let end = scanner.index
        let content = UnsafeRawBufferPointer(rebasing: scanner.bytes[(start + 1)..<(end - 1)])
        if !content.contains(JSONByte.backslash) {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: scanner.bytes[start..<end]))
        } else {
            // Escapes have several spellings (`\/`, `\u0041`): decoded, then written the one way.
            scanner.index = start
            Self.append(try scanner.readString(), to: &out)
        }
    }

    private func appendValue(to out: inout [UInt8]) {
        Self.append(value, to: &out)
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { JSONString.append(utf8: $0, to: &out) }
    }

    // MARK: Objects

    /// Writes an object: the original's members when `original` (the scanner is at its `{`),
    /// then the members `patches` add, in key order. Leaves the scanner after the original.
    private mutating func writeObject(
        depth: Int, original: Bool, patches: [(key: StaticString, patch: Patch)], into out: inout [UInt8]
    ) throws {
        var members: [Member] = []
        if original { members = try readMembers(depth: depth, patches: patches) }
        for (key, patch) in patches {
            let bytes = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
            if !members.contains(where: { $0.patch != nil && $0.key.elementsEqual(bytes) }) {
                members.append(Member(key: bytes, value: nil, patch: patch))
            }
        }
        members.sort { $0.key.lexicographicallyPrecedes($1.key) }
        for index in members.indices.dropFirst() where members[index - 1].key.elementsEqual(members[index].key) {
            throw Refused()
        }
        let end = scanner.index
        out.append(JSONByte.openBrace)
        for (position, member) in members.enumerated() {
            if position > 0 { out.append(JSONByte.comma) }
            out.append(JSONByte.quote)
            out.append(contentsOf: member.key)
            out.append(JSONByte.quote)
            out.append(JSONByte.colon)
            if let start = member.value {
                scanner.index = start
                try write(depth: depth + 1, patch: member.patch, into: &out)
            } else if let patch = member.patch {
                try writeAbsent(depth: depth + 1, patch: patch, into: &out)
            }
        }
        out.append(JSONByte.closeBrace)
        scanner.index = end
    }

    /// The members of the object at the scanner (its `{`), each with where its value starts and
    /// the patch its key names; leaves the scanner after the object's `}`.
    private mutating func readMembers(depth: Int, patches: [(key: StaticString, patch: Patch)]) throws -> [Member] {
        _ = scanner.consume(JSONByte.openBrace)
        var members: [Member] = []
        var first = true
        while let key = try scanner.nextKey(first: first) {
            first = false
            guard let bytes = key.plainBytes, !bytes.contains(where: { $0 >= 0x80 }) else { throw Refused() }
            let named = patches.first { candidate in
                UnsafeRawBufferPointer(start: candidate.key.utf8Start, count: candidate.key.utf8CodeUnitCount).elementsEqual(bytes)
            }
            let patch = named?.patch
            _ = scanner.skipWhitespace()
            members.append(Member(key: bytes, value: scanner.index, patch: patch))
            try scanner.skipValue(depth: depth + 1)
        }
        return members
    }
}

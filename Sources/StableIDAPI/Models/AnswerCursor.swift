import Foundation
import IdentityMap
import LookupCache
import NIOCore
import Support

/// Writes stored answers' JSON into a `ByteBuffer` through a raw cursor: the batch answer from
/// memory is a third of a megabyte, and appending it piece by piece to an array (a capacity and
/// uniqueness check each time) was most of the time spent writing it.
///
/// What it writes is spelled once, in ``AnswerSink/answer(_:)``, which ``JSONWriter`` uses for
/// answers read from PostgreSQL; strings are Support's ``JSONString``, UUIDs ``Hex``'s.
struct AnswerCursor: AnswerSink {
    private let start: UnsafeMutablePointer<UInt8>
    private var position: UnsafeMutablePointer<UInt8>

    init(_ start: UnsafeMutablePointer<UInt8>) {
        self.start = start
        self.position = start
    }

    var count: Int { position - start }

    /// At most this many bytes for `answer`: the keys, punctuation, times and uuid, plus every
    /// text escaped at its longest (``JSONString/maxEscapedLength``, 6 bytes a byte).
    static func bound(_ answer: StoredAnswer) -> Int {
        let texts =
            answer.username.count + (answer.email?.count ?? 0) + answer.provider.utf8.count + answer.sub.utf8.count
            + answer.pool.rawValue.utf8.count
        let enumerations =
            answer.status.rawValue.utf8.count + answer.userStatus.rawValue.utf8.count + (answer.via?.rawValue.utf8.count ?? 0)
        // 256 covers the keys, quotes and punctuation of an answer with every optional field
        // (209 bytes), the quoted uuid included.
        return 256 + 2 * RFC3339.maxLength + JSONString.maxEscapedLength * texts + enumerations
    }

    /// A string literal (its bytes, not a single scalar).
    mutating func raw(_ text: StaticString) {
        position.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        position += text.utf8CodeUnitCount
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    private mutating func byte(_ value: UInt8) {
        position.pointee = value
        position += 1
    }

    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        position += JSONString.write(utf8: utf8, into: position)
    }

    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    /// An enumeration's raw value, which needs no escape.
    mutating func plainString(_ text: String) {
        var text = text
        byte(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            if let base = utf8.baseAddress {
                position.update(from: base, count: utf8.count)
                position += utf8.count
            }
        }
        byte(UInt8(ascii: "\""))
    }

    mutating func time(_ date: Date) {
        byte(UInt8(ascii: "\""))
        position += RFC3339.write(date, into: position)
        byte(UInt8(ascii: "\""))
    }

    mutating func uuid(_ value: UUID) {
        byte(UInt8(ascii: "\""))
        let digits = position
        withUnsafeBytes(of: value.uuid) { Hex.writeUUID($0, into: digits) }
        position += Hex.uuidTextLength
        byte(UInt8(ascii: "\""))
    }
}

extension ByteBuffer {
    /// `answer` (``AnswerSink/answer(_:)``), preceded by `separator` when given.
    mutating func writeAnswer(_ answer: StoredAnswer, separator: StaticString? = nil) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: AnswerCursor.bound(answer) + 1) { raw in
            var cursor = AnswerCursor(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            if let separator { cursor.raw(separator) }
            cursor.answer(answer)
            // Past the bound the cursor would have written over memory it does not own: stop.
            precondition(cursor.count <= raw.count, "AnswerCursor.bound is too small for an answer")
            return cursor.count
        }
    }
}

/// Where an answer's JSON goes: ``JSONWriter`` (an array that grows) or ``AnswerCursor`` (a raw
/// cursor over room reserved beforehand). ``answer(_:)`` is the one spelling of an answer.
protocol AnswerSink {
    mutating func raw(_ text: StaticString)
    /// A JSON string, escaped, from UTF-8.
    mutating func string(_ utf8: UnsafeRawBufferPointer)
    mutating func string(_ text: String)
    /// An enumeration's raw value, which needs no escape.
    mutating func plainString(_ text: String)
    mutating func bool(_ value: Bool)
    mutating func time(_ value: Date)
    mutating func uuid(_ value: UUID)
}

extension AnswerSink {
    /// `{"identity":{…},"status":…,"user_id":…}`, keys sorted like the rest of the API's answers.
    mutating func answer(_ answer: StoredAnswer) {
        answerOpening(answer)
        answerClosing(answer)
    }

    /// An answer up to its user's status, `{"identity":{…},"status":"…"`: a member that sorts
    /// between `status` and `user_id` (the token lookup's `token`) is written after it.
    mutating func answerOpening(_ answer: StoredAnswer) {
        raw("{\"identity\":")
        if let email = answer.email {
            raw("{\"email\":")
            string(email)
            raw(",\"email_verified\":")
        } else {
            raw("{\"email_verified\":")
        }
        bool(answer.emailVerified)
        raw(",\"linked_at\":")
        time(answer.linkedAt)
        raw(",\"pool\":")
        string(answer.pool.rawValue)
        raw(",\"provider\":")
        string(answer.provider)
        raw(",\"status\":")
        plainString(answer.status.rawValue)
        raw(",\"sub\":")
        string(answer.sub)
        if let unlinkedAt = answer.unlinkedAt {
            raw(",\"unlinked_at\":")
            time(unlinkedAt)
        }
        raw(",\"username\":")
        string(answer.username)
        if let via = answer.via {
            raw(",\"via\":")
            plainString(via.rawValue)
        }
        raw("},\"status\":")
        plainString(answer.userStatus.rawValue)
    }

    /// The rest of an answer: `,"user_id":"…"}`.
    mutating func answerClosing(_ answer: StoredAnswer) {
        raw(",\"user_id\":")
        uuid(answer.userID)
        raw("}")
    }
}

import Foundation
import Support

/// Reads one user object of `list-users` JSON — `{"Username": …, "Attributes": [...], …}` — from
/// bytes that hold all of it. `UserFileReader` walks the pages around the users a byte at a time;
/// this is the per-user half, where the time goes, so it runs over the buffer's pointer with a
/// `JSONScanner`.
///
/// The rules are the walk's: fields in any order, unknown ones skipped however nested, `null`
/// means absent, dates are epoch seconds or RFC 3339 strings, a user without a `Username` is an
/// error.
struct UserObjectParser {
    /// What is wrong, in which field, at which index of the bytes; the reader turns the index
    /// into a place in the file.
    struct Failure: Error {
        var subject: String
        var index: Int
        var problem: String
    }

    private(set) var scanner: JSONScanner
    /// Containers around the object, so the depth limit counts the whole file.
    private let depth: Int
    /// The field being read, which a failure names. Kept here and set before each field rather
    /// than passed down, so the scanner's failures need no wrapping at every call.
    private var subject = "user object"

    /// `scanner` stands at the object's `{`.
    init(_ scanner: JSONScanner, depth: Int) {
        self.scanner = scanner
        self.depth = depth
    }

    /// Reads the object and leaves the scanner after its `}`.
    mutating func parse() throws(Failure) -> UserType {
        do throws(JSONScanner.Failure) {
            return try readUser()
        } catch {
            throw Failure(subject: subject, index: error.index, problem: error.problem)
        }
    }

    private mutating func readUser() throws(JSONScanner.Failure) -> UserType {
        let start = scanner.index
        guard scanner.consume(ASCII.openBrace) else { throw unexpected("expected a user object") }
        var user = UserType(Username: "")
        var hasUsername = false
        var first = true
        while true {
            subject = "user object"
            guard let key = try scanner.nextKey(first: first) else { break }
            first = false
            switch key {
            case "Username":
                subject = "Username"
                if let username = try readOptionalString() {
                    user.Username = username
                    hasUsername = true
                }
            case "Attributes":
                subject = "Attributes"
                user.Attributes = try readAttributes(name: "Attributes Name", value: "Attributes Value")
            case "UserAttributes":
                subject = "UserAttributes"
                user.Attributes = try readAttributes(name: "UserAttributes Name", value: "UserAttributes Value")
            case "Enabled":
                subject = "Enabled"
                user.Enabled = try readOptionalBool()
            case "UserStatus":
                subject = "UserStatus"
                user.UserStatus = try readOptionalString()
            case "UserCreateDate":
                subject = "UserCreateDate"
                user.UserCreateDate = try readDate()
            case "UserLastModifiedDate":
                subject = "UserLastModifiedDate"
                user.UserLastModifiedDate = try readDate()
            default:
                subject = key.text
                try scanner.skipValue(depth: depth + 1)
            }
        }
        guard hasUsername else { throw JSONScanner.Failure(index: start, problem: "it has no Username") }
        return user
    }

    /// `[{"Name": …, "Value": …}, …]`; a missing or null `Value` is kept as nil. `subject` names
    /// the field (`Attributes` or `UserAttributes`) on entry; `name` and `value` are what a
    /// failure inside those two members is called.
    private mutating func readAttributes(
        name nameSubject: String, value valueSubject: String
    ) throws(JSONScanner.Failure)
        -> [AttributeType]?
    {
        let field = subject
        if try readNull() { return nil }
        guard scanner.consume(ASCII.openBracket) else {
            throw unexpected("expected an array of {\"Name\", \"Value\"} objects")
        }
        var attributes: [AttributeType] = []
        var first = true
        while try scanner.nextElement(first: first) {
            first = false
            _ = scanner.skipWhitespace()
            let start = scanner.index
            guard scanner.consume(ASCII.openBrace) else { throw unexpected("expected a {\"Name\", \"Value\"} object") }
            var name: String?
            var value: String?
            var firstKey = true
            while true {
                subject = field
                guard let key = try scanner.nextKey(first: firstKey) else { break }
                firstKey = false
                switch key {
                case "Name":
                    subject = nameSubject
                    name = try readOptionalString()
                case "Value":
                    subject = valueSubject
                    value = try readOptionalString()
                default:
                    subject = key.text
                    try scanner.skipValue(depth: depth + 3)
                }
            }
            guard let name else { throw JSONScanner.Failure(index: start, problem: "an attribute has no Name") }
            attributes.append(AttributeType(name, value))
        }
        return attributes
    }

    private mutating func readOptionalString() throws(JSONScanner.Failure) -> String? {
        if try readNull() { return nil }
        guard scanner.skipWhitespace() == ASCII.quote else { throw unexpected("expected a string") }
        return try scanner.readString()
    }

    private mutating func readOptionalBool() throws(JSONScanner.Failure) -> Bool? {
        guard let byte = scanner.skipWhitespace(), ASCII.isLiteralStart(byte) else {
            throw unexpected("expected true or false")
        }
        return try scanner.readLiteral()
    }

    /// Epoch seconds (AWS CLI v1, the API) or an RFC 3339 string (AWS CLI v2, SDK dumps).
    private mutating func readDate() throws(JSONScanner.Failure) -> Date? {
        let byte = scanner.skipWhitespace()
        let start = scanner.index
        switch byte ?? 0 {
        case UInt8(ascii: "n"):
            _ = try scanner.readLiteral()  // null, or a failure
            return nil
        case ASCII.quote:
            let text = try scanner.readString()
            guard let date = RFC3339.parse(text) else {
                let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
                throw JSONScanner.Failure(
                    index: start, problem: "'\(shown)' is not a date (expected e.g. 2026-11-20T10:11:12.345000+00:00)")
            }
            return date
        case ASCII.minus, ASCII.zero...ASCII.nine:
            return Date(timeIntervalSince1970: try scanner.readNumber())
        default:
            throw unexpected("expected a number or a date string")
        }
    }

    /// Consumes `null` if it comes next.
    private mutating func readNull() throws(JSONScanner.Failure) -> Bool {
        guard scanner.skipWhitespace() == UInt8(ascii: "n") else { return false }
        _ = try scanner.readLiteral()  // null, or a failure
        return true
    }

    /// A failure at the next byte: "`expectation`, found …".
    private mutating func unexpected(_ expectation: String) -> JSONScanner.Failure {
        let byte = scanner.skipWhitespace()
        return JSONScanner.Failure(index: scanner.index, problem: "\(expectation), found \(JSONScanner.describe(byte))")
    }
}

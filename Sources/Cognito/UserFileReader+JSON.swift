import Support

/// The `list-users` JSON: the page structure walked a byte at a time, each user object read whole.
extension UserFileReader {
    /// A container the walk is inside, outside user objects. `first` is true until an element
    /// has been read, so a comma is expected before every later one.
    enum Frame {
        case object(first: Bool)
        case array(first: Bool)
        case users(first: Bool)
    }

    /// Names a byte in a message: the character when printable, else its hex value.
    private static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        return JSONScanner.describe(byte)
    }

    func nextJSON(max: Int) throws -> [UserType] {
        var users: [UserType] = []
        while users.count < max, let user = try nextJSONUser() {
            users.append(user)
        }
        return users
    }

    /// Walks the page structure to the next element of a `Users` array and reads it; nil at the end.
    private func nextJSONUser() throws -> UserType? {
        if bytesRead == 0 { try skipByteOrderMark() }
        while true {
            let next = try skipWhitespace()
            guard let top = frames.last else {
                // Between documents: another page, an array of pages, or the end.
                guard let byte = next else { return nil }
                guard byte == ASCII.openBrace || byte == ASCII.openBracket else {
                    throw malformed(
                        "list-users JSON", here, "expected a page ({\"Users\": [...]}) or an array of pages, found \(Self.describe(byte))"
                    )
                }
                try enter(byte == ASCII.openBrace ? .object(first: true) : .array(first: true))
                continue
            }
            guard let byte = next else { throw malformed("list-users JSON", here, "the file ends before the JSON does") }
            switch top {
            case .object(let first):
                if byte == ASCII.closeBrace {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBrace, in: "list-users JSON") }
                frames[frames.count - 1] = .object(first: false)
                let key = try readKey(in: "list-users JSON")
                let valueStart = try skipWhitespace()
                if key == "Users" {
                    guard valueStart == ASCII.openBracket else {
                        throw malformed("Users", here, "expected an array of users, found \(Self.describe(valueStart))")
                    }
                    try enter(.users(first: true))
                } else {
                    try enterOrSkip(valueStart, subject: key)
                }
            case .array(let first):
                if byte == ASCII.closeBracket {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBracket, in: "list-users JSON") }
                frames[frames.count - 1] = .array(first: false)
                try enterOrSkip(try skipWhitespace(), subject: "list-users JSON")
            case .users(let first):
                if byte == ASCII.closeBracket {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBracket, in: "Users") }
                frames[frames.count - 1] = .users(first: false)
                let start = try skipWhitespace()
                guard start == ASCII.openBrace else {
                    throw malformed("Users", here, "expected a user object, found \(Self.describe(start))")
                }
                return try readUser()
            }
        }
    }

    /// Pages may sit anywhere (an array of pages, a wrapper object): containers outside user
    /// objects are walked into, looking for `Users`; anything else is skipped.
    private func enterOrSkip(_ byte: UInt8?, subject: String) throws {
        if byte == ASCII.openBrace {
            try enter(.object(first: true))
        } else if byte == ASCII.openBracket {
            try enter(.array(first: true))
        } else {
            let depth = frames.count
            try scanBuffered(subject) { scanner in try scanner.skipValue(depth: depth) }
        }
    }

    private func enter(_ frame: Frame) throws {
        guard frames.count < JSONScanner.maxDepth else {
            throw malformed("list-users JSON", here, "nested more than \(JSONScanner.maxDepth) levels deep")
        }
        position += 1
        frames.append(frame)
    }

    private func skipByteOrderMark() throws {
        guard try peek() == 0xEF else { return }
        while buffer.count < 3, try refill() {}
        if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    /// Skips JSON whitespace and returns the next byte, unconsumed; nil at the end of the file.
    private func skipWhitespace() throws -> UInt8? {
        while let byte = try peek() {
            switch byte {
            case ASCII.space, ASCII.tab, ASCII.carriageReturn, ASCII.lineFeed:
                position += 1
            default:
                return byte
            }
        }
        return nil
    }

    /// Consumes the `,` between elements; anything else but the closing bracket is an error.
    private func expectSeparator(closing: UInt8, in subject: String) throws {
        let byte = try skipWhitespace()
        guard byte == ASCII.comma else {
            throw malformed(subject, here, "expected ',' or '\(Character(Unicode.Scalar(closing)))', found \(Self.describe(byte))")
        }
        position += 1
    }

    /// Reads `"key":` and leaves the walk at the value.
    private func readKey(in subject: String) throws -> String {
        let byte = try skipWhitespace()
        guard byte == ASCII.quote else { throw malformed(subject, here, "expected a quoted key, found \(Self.describe(byte))") }
        let key = try scanBuffered(subject) { scanner in try scanner.readString() }
        let colon = try skipWhitespace()
        guard colon == ASCII.colon else { throw malformed(subject, here, "expected ':' after \"\(key)\", found \(Self.describe(colon))") }
        position += 1
        return key
    }

    /// The user object whose `{` is at `position`, read whole from the buffer.
    private func readUser() throws -> UserType {
        let depth = frames.count
        return try scanBuffered("user object") { scanner in
            var parser = UserObjectParser(scanner, depth: depth)
            let user = try parser.parse()
            scanner = parser.scanner
            return user
        }
    }
}

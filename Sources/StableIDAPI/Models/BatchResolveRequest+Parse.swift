import NIOCore
import Support

extension BatchResolveRequest {
    /// Parses the body straight from the buffer's bytes with `JSONScanner`: going through
    /// `JSONSerialization` and casting its dictionaries took milliseconds for a thousand items.
    ///
    /// The contract and the 400s are the ones `JSONSerialization` gave: an object with an `items`
    /// array of objects, each with a string `sub` and, when present, string `pool` / `iss`; other
    /// keys ignored; the last of duplicate keys wins. `JSONSerialization` checked the whole
    /// document before anything else was looked at, so a syntax error anywhere — in an ignored key
    /// too — still wins over a wrong shape: shape problems are noted as the body is read and only
    /// reported once all of it has turned out to be JSON.
    static func parse(_ buffer: ByteBuffer) throws -> BatchResolveRequest {
        guard buffer.readableBytes > 0 else { throw Problem.invalidRequest("the request body is empty; send JSON") }
        let shape = buffer.withUnsafeReadableBytes { bytes -> Result<[Item], Problem>? in
            var reader = BodyReader(JSONScanner(bytes, strings: .strict))
            do throws(JSONScanner.Failure) {
                return try reader.read()
            } catch {
                return nil
            }
        }
        guard let shape else { throw Problem.invalidRequest("the body is not valid JSON") }
        return BatchResolveRequest(items: try shape.get())
    }

    /// ``parse(_:)``, a large compact body's two halves read on two cores at once: reading a
    /// thousand items took as long as answering them.
    ///
    /// The body is cut after an item's `}` that is followed by `,{`, near its middle, and each
    /// part made a document of its own (`{"items":[` first part `]}`, `{"items":[` second part).
    /// The cut is kept only when both are valid, have `items` as their only key and every item
    /// is well-formed — which holds exactly when it fell between two items of the one `items`
    /// array: anywhere else (inside a string, deeper in a value, in another key's array) one
    /// part is not JSON or has a second key. Otherwise, and for every body with a problem, the
    /// whole body is read as one, so answers and errors are those of ``parse(_:)``.
    ///
    /// A body that looks splittable but is not (an item in error, a cut inside a string) is read
    /// twice, in halves and then whole: at most twice the work of one reading, within the body
    /// size limit.
    static func parseConcurrently(_ buffer: ByteBuffer) async throws -> BatchResolveRequest {
        if buffer.readableBytes >= splitThreshold, looksSplittable(buffer.readableBytesView),
            let items = await itemsInHalves(Array(buffer.readableBytesView))
        {
            return BatchResolveRequest(items: items)
        }
        return try parse(buffer)
    }

    /// Opens with exactly `{"items":[` and ends with `]}` (then only whitespace): checked before
    /// the body is copied for the halves.
    private static func looksSplittable(_ bytes: ByteBufferView) -> Bool {
        guard bytes.starts(with: #"{"items":["#.utf8) else { return false }
        let last = bytes.lastIndex { byte in
            byte != JSONByte.space && byte != JSONByte.tab && byte != JSONByte.lineFeed && byte != JSONByte.carriageReturn
        }
        guard let last, last > bytes.startIndex else { return false }
        return bytes[last] == UInt8(ascii: "}") && bytes[bytes.index(before: last)] == UInt8(ascii: "]")
    }

    /// Below this, one core reads the body faster than two start.
    static let splitThreshold = 16 << 10

    static func itemsInHalves(_ body: [UInt8]) async -> [Item]? {
        let opening = Array(#"{"items":["#.utf8)
        guard body.starts(with: opening), let cut = itemBoundary(in: body, from: body.count / 2) else { return nil }
        let first = Array(body[..<(cut + 1)]) + Array("]}".utf8)
        let second = opening + body[(cut + 2)...]
        async let secondItems = onlyItems(second)
        guard let firstItems = onlyItems(first), let secondItems = await secondItems else { return nil }
        return firstItems + secondItems
    }

    /// The index of the first `}` at or after `start` that is followed by `,{`.
    private static func itemBoundary(in body: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 2 < body.count {
            if body[index] == UInt8(ascii: "}"), body[index + 1] == UInt8(ascii: ","), body[index + 2] == UInt8(ascii: "{") {
                return index
            }
            index += 1
        }
        return nil
    }

    /// The items of a document that is valid JSON, has `items` as its only key, and no item in error.
    private static func onlyItems(_ document: [UInt8]) -> [Item]? {
        document.withUnsafeBytes { bytes in
            var reader = BodyReader(JSONScanner(bytes, strings: .strict))
            guard case .success(let items)? = try? reader.read(), reader.bodyKeys == 1 else { return nil }
            return items
        }
    }
}

/// One pass over a batch body. Syntax errors throw at once (the caller answers "not valid JSON");
/// a wrong shape is carried along as a `Problem` and returned at the end.
private struct BodyReader {
    typealias Item = BatchResolveRequest.Item

    /// The last value of one of an item's keys.
    private enum Field {
        case absent
        case text(String)
        case notText

        var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }
    }

    private var scanner: JSONScanner
    /// Keys of the body object read so far (repeats included).
    private(set) var bodyKeys = 0

    init(_ scanner: JSONScanner) {
        self.scanner = scanner
    }

    mutating func read() throws(JSONScanner.Failure) -> Result<[Item], Problem> {
        // JSONSerialization accepts a UTF-8 byte-order mark.
        if scanner.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.index = 3 }
        let shape: Result<[Item], Problem>
        switch scanner.skipWhitespace() ?? 0 {
        case UInt8(ascii: "{"):
            shape = try readBody()
        case UInt8(ascii: "["):
            try scanner.skipValue()
            shape = .failure(.invalidRequest("the body must be a JSON object"))
        default:
            // Nothing, or a bare string, number or literal: JSONSerialization refuses those
            // without `.fragmentsAllowed`.
            throw JSONScanner.Failure(index: scanner.index, problem: "expected an object or an array")
        }
        guard scanner.skipWhitespace() == nil else {
            throw JSONScanner.Failure(index: scanner.index, problem: "expected the end of the body")
        }
        return shape
    }

    private mutating func readBody() throws(JSONScanner.Failure) -> Result<[Item], Problem> {
        _ = scanner.consume(UInt8(ascii: "{"))
        var items: Result<[Item], Problem>?
        var first = true
        while let key = try scanner.nextKey(first: first) {
            first = false
            bodyKeys += 1
            if key == "items" {
                items = try readItems()
            } else {
                try scanner.skipValue(depth: 1)
            }
        }
        return items ?? .failure(.invalidRequest("items is required"))
    }

    private mutating func readItems() throws(JSONScanner.Failure) -> Result<[Item], Problem> {
        guard scanner.consume(UInt8(ascii: "[")) else {
            try scanner.skipValue(depth: 1)
            return .failure(.invalidRequest("items must be an array"))
        }
        var items: [Item] = []
        var problem: Problem?
        var index = 0
        while try scanner.nextElement(first: index == 0) {
            // The first item in error is the one reported, as the decoder did.
            switch try readItem(at: index) {
            case .success(let item): if problem == nil { items.append(item) }
            case .failure(let refused): if problem == nil { problem = refused }
            }
            index += 1
        }
        if let problem { return .failure(problem) }
        return .success(items)
    }

    private mutating func readItem(at index: Int) throws(JSONScanner.Failure) -> Result<Item, Problem> {
        guard scanner.consume(UInt8(ascii: "{")) else {
            try scanner.skipValue(depth: 2)
            return .failure(.invalidRequest("items[\(index)] must be an object"))
        }
        var pool = Field.absent
        var iss = Field.absent
        var sub = Field.absent
        var first = true
        while let key = try scanner.nextKey(first: first) {
            first = false
            switch key {
            case "pool": pool = try readField()
            case "iss": iss = try readField()
            case "sub": sub = try readField()
            default: try scanner.skipValue(depth: 3)
            }
        }
        // In the order the decoder checked them: pool, iss, then sub.
        func refused(_ key: String, _ problem: String) -> Result<Item, Problem> {
            .failure(.invalidRequest("items[\(index)].\(key) \(problem)"))
        }
        if case .notText = pool { return refused("pool", "must be a string") }
        if case .notText = iss { return refused("iss", "must be a string") }
        switch sub {
        case .absent: return refused("sub", "is required")
        case .notText: return refused("sub", "must be a string")
        case .text(let sub): return .success(Item(pool: pool.text, iss: iss.text, sub: sub))
        }
    }

    /// A string is kept; anything else (a number, a boolean, null, an object, an array) is only
    /// checked and noted as not a string.
    private mutating func readField() throws(JSONScanner.Failure) -> Field {
        if scanner.skipWhitespace() == UInt8(ascii: "\"") { return .text(try scanner.readString()) }
        try scanner.skipValue(depth: 3)
        return .notText
    }
}

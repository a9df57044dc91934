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

extension KeyedDecodingContainer {
    /// An optional field: absent means nil, but an explicit `null` is refused. No request field
    /// is nullable, and reading `null` as "absent" would let a typo'd client silently reset it.
    func decodeUnlessAbsent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                T.self, .init(codingPath: codingPath + [key], debugDescription: "null is not accepted; leave the field out")
            )
        }
        return try decode(T.self, forKey: key)
    }
}

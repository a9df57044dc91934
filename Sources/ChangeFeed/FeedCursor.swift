import CryptoPrimitives

/// A consumer's place in the change feed: every change at or before ``position`` has been read.
///
/// The position is a `change_feed.id` (sql/0022), so a cursor means the same on every server and
/// survives restarts and a failover to a streaming standby: it names a row of a replicated
/// table, not anything in a process's memory.
///
/// Clients hold it as opaque text: unpadded base64url of a version byte (1) followed by the
/// position as 8 bytes, big-endian — 12 characters, `A` then one of `Q`…`X` (the version's low
/// bits and a non-negative position's high ones) then ten more. Nothing but the position is in
/// it; the version byte lets a later format be told apart. Every text that pattern allows reads
/// back, and each position has exactly one spelling.
public struct FeedCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let position: Int64

    static let version: UInt8 = 1

    /// `position` ≥ 0 (positions are `bigserial` values, 0 is "before the first").
    public init(position: Int64) {
        precondition(position >= 0, "a feed position is never negative")
        self.position = position
    }

    /// Reads a cursor a client sent; nil for anything ``text`` cannot have written.
    public init?(text: some StringProtocol) {
        guard text.utf8.count == 12, let bytes = Base64URL.decode(text), bytes.count == 9, bytes[0] == Self.version else {
            return nil
        }
        let value = bytes.dropFirst().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value <= UInt64(Int64.max) else { return nil }
        self.position = Int64(value)
    }

    public var text: String {
        let value = UInt64(position)
        return Base64URL.encode([Self.version] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) })
    }

    public var description: String { text }

    public static func < (lhs: FeedCursor, rhs: FeedCursor) -> Bool {
        lhs.position < rhs.position
    }
}

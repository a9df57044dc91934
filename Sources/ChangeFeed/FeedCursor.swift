import CryptoPrimitives

/// A consumer's place in the change feed: every change at or before ``position`` has been read.
///
/// The position is a `change_feed.id` (sql/0022), so a cursor means the same on every server and
/// survives restarts and a failover to a streaming standby: it names a row of a replicated
/// table, not anything in a process's memory.
///
/// A failover to an asynchronous standby can lose the last commits, and the promoted server
/// hands their positions out again to other changes: a consumer that read a lost change would
/// then skip the new one at that position. So a cursor also carries a ``check`` of the row it
/// names (a mix of its event and publication time, ``check(eventID:publishedMicros:)``); a read whose
/// row at that position is another row answers ``ChangeFeedError/cursorDiverged`` (410: re-sync).
///
/// Clients hold it as opaque text: unpadded base64url of a version byte and the position as 8
/// bytes, big-endian — version 1, 12 characters, when there is no row to check (position 0, an
/// empty feed) — then, version 2, the check as 4 bytes: 18 characters. Every text those patterns
/// allow reads back, and each (position, check) has exactly one spelling.
public struct FeedCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let position: Int64
    /// The row's check, when the cursor names a row (``check(eventID:publishedMicros:)``).
    public let check: UInt32?

    static let version: UInt8 = 1
    static let checkedVersion: UInt8 = 2

    /// `position` ≥ 0 (positions are `bigserial` values, 0 is "before the first").
    public init(position: Int64, check: UInt32? = nil) {
        precondition(position >= 0, "a feed position is never negative")
        self.position = position
        self.check = check
    }

    /// Reads a cursor a client sent; nil for anything ``text`` cannot have written.
    public init?(text: some StringProtocol) {
        let length = text.utf8.count
        guard length == 12 || length == 18, let bytes = Base64URL.decode(text) else { return nil }
        switch (bytes.count, bytes.first) {
        case (9, Self.version): self.check = nil
        case (13, Self.checkedVersion):
            self.check = bytes[9...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        default: return nil
        }
        let value = bytes[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value <= UInt64(Int64.max) else { return nil }
        self.position = Int64(value)
    }

    public var text: String {
        let value = UInt64(position)
        let positionBytes = (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
        guard let check else { return Base64URL.encode([Self.version] + positionBytes) }
        let checkBytes = (0..<4).map { UInt8(truncatingIfNeeded: check >> (24 - 8 * UInt32($0))) }
        return Base64URL.encode([Self.checkedVersion] + positionBytes + checkBytes)
    }

    public var description: String { text }

    /// The check of the feed row with this event, published at this time (microseconds since
    /// 1970, as the database stores it): 32 bits of a 64-bit mix of both (SplitMix64's
    /// finalizer). Another row at the same position after a failover has another event or another
    /// time; a check only tells rows apart (a client that forges one only misleads itself), so it
    /// needs no cryptographic hash — the feed computes one per change, a thousand a page.
    public static func check(eventID: Int64, publishedMicros: Int64) -> UInt32 {
        func mix(_ value: UInt64) -> UInt64 {
            var z = value &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return UInt32(truncatingIfNeeded: mix(mix(UInt64(bitPattern: eventID)) ^ UInt64(bitPattern: publishedMicros)) >> 32)
    }

    /// By position; at one position (two spellings: without a check, or two checks after a
    /// failover) by the check, so that `<` and `==` agree.
    public static func < (lhs: FeedCursor, rhs: FeedCursor) -> Bool {
        (lhs.position, lhs.check.map(Int64.init) ?? -1) < (rhs.position, rhs.check.map(Int64.init) ?? -1)
    }
}

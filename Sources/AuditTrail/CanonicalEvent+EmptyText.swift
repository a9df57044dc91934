extension CanonicalEvent {
    /// The text columns of `events` whose canonical field cannot tell NULL from the empty string.
    ///
    /// Every field is `<length>:<bytes>`, and an absent value is the empty field (`0:`), so
    /// `pool_id`, `sub` and `request_id` hash the same whether NULL or `''` — and `actor` and
    /// `kind`, which are NOT NULL, the same whether `''` or (the constraint dropped) NULL. No
    /// StableID version ever wrote `''` into any of them, and since migration 0005 the CHECK
    /// `events_no_empty_text` refuses it; but a superuser can drop the CHECK and turn a sealed
    /// event's NULL `sub` into `''` without changing one hashed byte. So the verifier treats such a
    /// value as tampering by itself (docs/AUDIT.md), rather than changing the bytes every honest
    /// event was sealed with.
    public enum TextColumn: String, Sendable, CaseIterable {
        case actor, kind
        case poolID = "pool_id"
        case sub
        case requestID = "request_id"

        /// Whether the column may hold NULL (`actor` and `kind` are NOT NULL).
        public var isNullable: Bool {
            switch self {
            case .actor, .kind: return false
            case .poolID, .sub, .requestID: return true
            }
        }

        /// Whether a stored value — its length in bytes, nil for NULL — is one the canonical bytes
        /// cannot tell from another: the empty string, or NULL where the column is NOT NULL.
        @inline(__always)
        public func isAmbiguous(byteCount: Int?) -> Bool {
            guard let byteCount else { return !isNullable }
            return byteCount == 0
        }
    }

    /// The values of one event (nil for NULL) that its canonical bytes cannot vouch for, spelled
    /// for a report (`sub = ''`, `actor IS NULL`), in field order. Empty for every event StableID
    /// writes.
    public static func ambiguousValues(actor: String?, kind: String?, poolID: String?, sub: String?, requestID: String?) -> [String] {
        let values: [(column: TextColumn, value: String?)] = [
            (.actor, actor), (.kind, kind), (.poolID, poolID), (.sub, sub), (.requestID, requestID),
        ]
        return values.compactMap { column, value in
            guard column.isAmbiguous(byteCount: value?.utf8.count) else { return nil }
            return value == nil ? "\(column.rawValue) IS NULL" : "\(column.rawValue) = ''"
        }
    }

    /// What a verifier says about an event with ``ambiguousValues(actor:kind:poolID:sub:requestID:)``.
    static func ambiguityDetail(eventID: Int64, _ values: [String]) -> String {
        "event \(eventID) has \(values.joined(separator: ", ")): its hash cannot tell '' from NULL there, and StableID never "
            + "writes that (CHECK events_no_empty_text, NOT NULL): changed behind the service's back"
    }
}

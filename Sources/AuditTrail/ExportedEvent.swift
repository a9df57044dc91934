public import Foundation
public import IdentityMap
import Support

/// One event as the trail hands it out: an NDJSON line of `stableid audit export` and
/// `GET /v1/events` (`format=ndjson`), and each item of the JSON pages. The one codec of that
/// shape: every writer encodes through ``init(_:withChain:)`` and ``line``, and ``ExportVerifier``
/// decodes with ``init(line:decoder:)`` — so the form the offline check demands byte for byte is
/// the form the exports write.
///
/// Keys are snake_case and sorted; an absent value is an absent key. With chain positions asked
/// for, `chain` is an object (see ``Chain``) or `null` for an event not sealed when exported.
public struct ExportedEvent: Sendable, Equatable, Codable {
    public var id: Int64
    /// RFC 3339, UTC, microseconds (``RFC3339/format(_:)``).
    public var occurredAt: String
    public var actor: String
    public var kind: String
    /// Lower-case UUID text.
    public var userID: String?
    public var pool: String?
    public var sub: String?
    public var requestID: String?
    public var details: JSONValue
    public var personal: JSONValue?
    public var chain: ChainField

    /// The `chain` key: left out unless asked for (`--chain`, `?chain=true`), `null` while the
    /// event is unsealed.
    public enum ChainField: Sendable, Equatable {
        case notAsked
        case unsealed
        case sealed(Chain)
    }

    /// An event's chain position and hashes, and the exact texts its canonical bytes were built
    /// from (docs/AUDIT.md, "Checking an export offline"). Hashes, digest and salt are lower-case
    /// hex; the optional ones are written as explicit `null`s.
    public struct Chain: Sendable, Equatable, Codable {
        public var seq: Int64
        public var prevHash: String
        public var hash: String
        public var personalDigest: String?
        public var occurredAt: String
        public var details: String
        public var personal: String?
        public var personalSalt: String?

        enum CodingKeys: String, CodingKey {
            case seq, hash, details, personal
            case prevHash = "prev_hash"
            case personalDigest = "personal_digest"
            case occurredAt = "occurred_at"
            case personalSalt = "personal_salt"
        }

        public init(_ position: SealedPosition) {
            seq = position.seq
            prevHash = Hex.encode(position.previousHash)
            hash = Hex.encode(position.hash)
            personalDigest = position.personalDigest.map { Hex.encode($0) }
            occurredAt = position.occurredAt
            details = position.detailsText
            personal = position.personalText
            personalSalt = position.personalSalt.map { Hex.encode($0) }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(seq, forKey: .seq)
            try container.encode(prevHash, forKey: .prevHash)
            try container.encode(hash, forKey: .hash)
            try container.encode(personalDigest, forKey: .personalDigest)  // explicit null
            try container.encode(occurredAt, forKey: .occurredAt)
            try container.encode(details, forKey: .details)
            try container.encode(personal, forKey: .personal)  // explicit null
            try container.encode(personalSalt, forKey: .personalSalt)  // explicit null
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, actor, kind, pool, sub, details, personal, chain
        case occurredAt = "occurred_at"
        case userID = "user_id"
        case requestID = "request_id"
    }

    /// The event as exports write it; `withChain` adds its chain position (`null` while unsealed).
    public init(_ event: AuditEvent, withChain: Bool) {
        id = event.id
        occurredAt = RFC3339.format(event.occurredAt)
        actor = event.actor
        kind = event.kind
        userID = event.userID.map { $0.uuidString.lowercased() }
        pool = event.poolID
        sub = event.sub
        requestID = event.requestID
        details = event.details
        personal = event.personal
        if !withChain {
            chain = .notAsked
        } else if let position = event.chain {
            chain = .sealed(Chain(position))
        } else {
            chain = .unsealed
        }
    }

    /// Reads one export line back (without its line feed). Throws when the line is not an
    /// exported event; whether it is exactly the exported form is the caller's check
    /// (re-encode and compare).
    public init(line: ArraySlice<UInt8>, decoder: JSONDecoder = JSONDecoder()) throws {
        self = try decoder.decode(Self.self, from: Data(line))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        occurredAt = try container.decode(String.self, forKey: .occurredAt)
        actor = try container.decode(String.self, forKey: .actor)
        kind = try container.decode(String.self, forKey: .kind)
        userID = try container.decodeIfPresent(String.self, forKey: .userID)
        pool = try container.decodeIfPresent(String.self, forKey: .pool)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
        details = try container.decode(JSONValue.self, forKey: .details)
        personal = try container.decodeIfPresent(JSONValue.self, forKey: .personal)
        if !container.contains(.chain) {
            chain = .notAsked
        } else if let sealed = try container.decodeIfPresent(Chain.self, forKey: .chain) {
            chain = .sealed(sealed)
        } else {
            chain = .unsealed
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(occurredAt, forKey: .occurredAt)
        try container.encode(actor, forKey: .actor)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(userID, forKey: .userID)
        try container.encodeIfPresent(pool, forKey: .pool)
        try container.encodeIfPresent(sub, forKey: .sub)
        try container.encodeIfPresent(requestID, forKey: .requestID)
        try container.encode(details, forKey: .details)
        try container.encodeIfPresent(personal, forKey: .personal)
        switch chain {
        case .notAsked: break
        case .unsealed: try container.encodeNil(forKey: .chain)
        case .sealed(let sealed): try container.encode(sealed, forKey: .chain)
        }
    }

    /// The NDJSON line: sorted keys, no insignificant white space, unescaped slashes, ending in a
    /// line feed (`null` for a value JSON cannot hold, as ``JSONValue/canonicalText`` writes it).
    public var line: String {
        ((try? String(decoding: JSONEncoder.sortedKeys().encode(self), as: UTF8.self)) ?? "null") + "\n"
    }
}

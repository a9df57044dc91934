public import Foundation
public import IdentityMap

/// The source users a campaign is about, when it is not about all of them (data sovereignty: only
/// the users of some countries move to a pool in another region). Fixed when the campaign is made.
///
/// A user is a member when every ``Condition`` holds — the attribute, as the source pool has it,
/// equal to one of the values, compared exactly (case and spaces count) — and, when the campaign
/// has a member file (``members`` not nil), the user is listed in it (``SubsetMember``, stored in
/// `campaign_subset_members`). A user without the attribute meets no condition on it.
///
/// Membership is judged from the source user's attributes at the time of each decision: by the
/// Migrate-user trigger from AdminGetUser at sign-in, by reconciliation from its snapshot, by
/// finalize and the clean-up from AdminGetUser. So a user whose attribute changes mid-campaign
/// moves with it: one who leaves the subset before migrating is refused from then on and is no
/// longer `unmigrated`; one who joins becomes migratable; one already migrated stays migrated (the
/// triggers never move a linked user, and reconciliation only asks about users not migrated), but
/// the clean-up leaves their source user alone. The values and the member file are fixed with the
/// campaign, except that an erasure takes a person's email or username out of them (AuditTrail's
/// `Erasure`); a condition left without values admits nobody.
public struct CampaignSubset: Sendable, Equatable {
    /// One `--only ATTR=V[,V…]`.
    public struct Condition: Sendable, Equatable {
        /// `custom:country`, `locale`, …
        public var attribute: String
        /// The values that admit a user, in the order given.
        public var values: [String]

        public init(attribute: String, values: [String]) {
            self.attribute = attribute
            self.values = values
        }

        /// Whether `value` is one of ``values``: never without a value, and never when ``values`` is
        /// empty (an erasure took the last of them) — such a condition admits nobody.
        public func holds(for value: String?) -> Bool {
            guard let value else { return false }
            return values.contains(value)
        }
    }

    /// How many entries the member file listed, by kind.
    public struct MemberCounts: Sendable, Equatable {
        public var usernames: Int
        public var subs: Int

        public init(usernames: Int, subs: Int) {
            self.usernames = usernames
            self.subs = subs
        }

        public var total: Int { usernames + subs }
    }

    public var conditions: [Condition]
    /// Nil: no member file.
    public var members: MemberCounts?

    public init(conditions: [Condition] = [], members: MemberCounts? = nil) {
        self.conditions = conditions
        self.members = members
    }

    /// Whether the user's attributes (`attribute(name)` gives a value as the source pool spells
    /// it) meet every condition. The member file is asked apart (``CampaignSubsetStore``): it lives
    /// in the database.
    public func matches(_ attribute: (String) -> String?) -> Bool {
        conditions.allSatisfy { $0.holds(for: attribute($0.attribute)) }
    }

    /// Whether a user is a member: ``matches(_:)`` and, with a member file, `listed` in it.
    public func admits(_ attribute: (String) -> String?, listed: Bool) -> Bool {
        matches(attribute) && (members == nil || listed)
    }

    public var hasMemberFile: Bool { members != nil }

    /// One line for tables: `custom:country=DE,FR; locale=de-DE; member file: 3 usernames, 2 subs`.
    public var summary: String {
        var parts = conditions.map { "\($0.attribute)=\($0.values.joined(separator: ","))" }
        if let members { parts.append("member file: \(members.usernames) usernames, \(members.subs) subs") }
        return parts.joined(separator: "; ")
    }

    // MARK: Reading what the operator typed

    /// Attributes a subset cannot be about: `sub` (list subs in a member file instead), and the
    /// ones the snapshot does not keep as Cognito spells them (`email_verified`, `identities`).
    static let refusedAttributes: Set<String> = ["sub", "email_verified", "identities"]

    /// One `--only ATTR=V[,V…]`: an attribute name (letters, digits, `_`, `:`, `-`, `.`; at most 64),
    /// `=`, and one or more values separated by commas, none empty, each at most 2,048 bytes.
    public static func condition(parsing text: String) throws(MigrationError) -> Condition {
        guard let equals = text.firstIndex(of: "=") else {
            throw .invalidCampaign("--only takes ATTRIBUTE=VALUE[,VALUE…], e.g. custom:country=DE,FR; got '\(text)'")
        }
        let attribute = String(text[..<equals])
        guard isAttributeName(attribute) else {
            throw .invalidCampaign("--only: '\(attribute)' is not an attribute name (custom:country, locale, …)")
        }
        guard !refusedAttributes.contains(attribute), !attribute.hasPrefix("cognito:") else {
            throw .invalidCampaign(
                attribute == "sub"
                    ? "--only sub=…: list subs in a file instead (--only-file)"
                    : "--only cannot be about \(attribute): give another attribute")
        }
        let values = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !values.contains(where: \.isEmpty) else {
            throw .invalidCampaign("--only \(attribute): a value is empty (values are separated by commas: DE,FR)")
        }
        guard values.allSatisfy({ $0.utf8.count <= 2_048 }) else { throw .invalidCampaign("--only \(attribute): a value is too long") }
        var seen = Set<String>()
        return Condition(attribute: attribute, values: values.filter { seen.insert($0).inserted })
    }

    /// The conditions of several `--only`, ANDed: one per attribute (its values are the choices).
    public static func conditions(parsing texts: [String]) throws(MigrationError) -> [Condition] {
        var conditions: [Condition] = []
        for text in texts {
            let parsed = try Self.condition(parsing: text)
            guard !conditions.contains(where: { $0.attribute == parsed.attribute }) else {
                throw .invalidCampaign(
                    "--only names \(parsed.attribute) twice: give its values once, separated by commas (several --only must all hold)")
            }
            conditions.append(parsed)
        }
        return conditions
    }

    static func isAttributeName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.first.map { $0 != UInt8(ascii: ":") } == true
            && name.utf8.allSatisfy { $0.isASCIIAlphanumericOrUnderscore || ":-.".utf8.contains($0) }
    }

    /// The lines of a member file (`--only-file`): one source user per line — a username, or a sub
    /// (a UUID in any case) — optionally preceded by a source pool of the campaign and whitespace
    /// (`eu-west-1_AbC123 alice`: only that pool's `alice`; a line without a pool names the user in
    /// whichever source pool has it; usernames hold no whitespace in Cognito). Blank lines and
    /// lines starting with `#` are skipped, spaces and tabs around a line ignored, CR-LF taken; a
    /// user listed twice is kept once. Errors name the line.
    public static func members(parsing text: String, sources: [PoolID]) throws(MigrationError) -> [SubsetMember] {
        var members: [SubsetMember] = []
        var seen = Set<SubsetMember>()
        var number = 0
        // `\r\n` is one Character in Swift: lines end at any newline Character.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var pool: PoolID?
            let key: String
            switch fields.count {
            case 1:
                key = fields[0]
            case 2:
                guard let named = PoolID(fields[0]), sources.contains(named) else {
                    throw .invalidCampaign("--only-file line \(number): '\(fields[0])' is not a source pool of the campaign")
                }
                pool = named
                key = fields[1]
            default:
                throw .invalidCampaign("--only-file line \(number): give a username or sub, optionally after its source pool")
            }
            guard key.utf8.count <= 512, !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw .invalidCampaign("--only-file line \(number): not a username (at most 512 bytes, no control characters)")
            }
            let member =
                CognitoSub.canonical(key).map { SubsetMember(pool: pool, kind: .sub, key: $0) }
                ?? SubsetMember(pool: pool, kind: .username, key: key)
            if seen.insert(member).inserted { members.append(member) }
        }
        guard !members.isEmpty else { throw .invalidCampaign("--only-file lists nobody") }
        return members
    }

    /// The counts of a member file.
    public static func counts(of members: [SubsetMember]) -> MemberCounts {
        let subs = members.filter { $0.kind == .sub }.count
        return MemberCounts(usernames: members.count - subs, subs: subs)
    }

    // MARK: Stored and recorded

    /// The `campaigns.subset` object: each condition's attribute and values, in order, and the
    /// member file's counts — `{"only": [{"attribute": "custom:country", "values": ["DE", "FR"]}],
    /// "members": {"usernames": 2, "subs": 1}}`. The one place the values are kept, in the shape
    /// every release since sql/0025 reads and writes: servers of two releases side by side in a
    /// rolling deploy read each other's campaigns. An erasure removes a person's emails and
    /// usernames from `values` in place (AuditTrail's `Erasure`), which may leave one empty.
    public var storedJSON: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "only": .array(
                conditions.map { .object(["attribute": .string($0.attribute), "values": .array($0.values.map(JSONValue.string))]) })
        ]
        if let members { json["members"] = Self.membersJSON(members) }
        return json
    }

    /// The subset in `campaign_created`: each condition's attribute and how many values it has
    /// (`count`), never a value nor a digest of one — an `--only email=…` lists people, a digest of
    /// an email is as good as the email to whoever can guess it, and no erasure reaches an event's
    /// details — and the member file's counts, never its usernames. (Campaigns created by earlier
    /// releases carry their values in their event.)
    public var recordedJSON: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "only": .array(
                conditions.map { .object(["attribute": .string($0.attribute), "count": .number(Double($0.values.count))]) })
        ]
        if let members { json["members"] = Self.membersJSON(members) }
        return json
    }

    static func membersJSON(_ members: MemberCounts) -> JSONValue {
        .object(["usernames": .number(Double(members.usernames)), "subs": .number(Double(members.subs))])
    }

    /// Reads ``storedJSON`` back — what any release wrote — and nil for anything else: every
    /// condition needs its `attribute` and its `values` array. An empty `values` (an erasure took
    /// the last) reads as a condition no value meets, so it admits nobody, never everybody.
    public init?(storedJSON json: JSONValue) {
        guard case .object(let object) = json, let only = object["only"]?.arrayValue else { return nil }
        var conditions: [Condition] = []
        for item in only {
            guard let attribute = item["attribute"]?.stringValue, let values = item["values"]?.arrayValue?.compactMap(\.stringValue)
            else { return nil }
            conditions.append(Condition(attribute: attribute, values: values))
        }
        var members: MemberCounts?
        if case .object(let counts)? = object["members"] {
            guard case .number(let usernames)? = counts["usernames"], case .number(let subs)? = counts["subs"] else { return nil }
            members = MemberCounts(usernames: Int(usernames), subs: Int(subs))
        }
        self.init(conditions: conditions, members: members)
    }
}

/// One line of a member file: a source user by username or sub, in one source pool or any.
public struct SubsetMember: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case username, sub
    }

    /// Nil: whichever source pool of the campaign has the user.
    public var pool: PoolID?
    public var kind: Kind
    /// The username as given, or the sub in lower case.
    public var key: String

    public init(pool: PoolID?, kind: Kind, key: String) {
        self.pool = pool
        self.kind = kind
        self.key = key
    }
}

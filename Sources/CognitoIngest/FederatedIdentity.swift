public import Foundation

/// One entry of a federated user's `identities` attribute: the external account (Google, Apple,
/// a SAML or OIDC provider) Cognito created the user for.
///
/// Kept whole because `(providerName, userID)` names the person at the provider, and that stays
/// the same when the person turns up in another pool under a new `sub`: it is how a federated
/// user is recognised across a migration.
public struct FederatedIdentity: Sendable, Hashable {
    public var providerName: String
    public var providerType: String?
    /// The person's ID at the provider (Google's `sub`, a SAML NameID).
    public var userID: String
    public var issuer: String?
    public var primary: Bool
    public var dateCreated: Date?

    public init(
        providerName: String, providerType: String? = nil, userID: String, issuer: String? = nil, primary: Bool = false,
        dateCreated: Date? = nil
    ) {
        self.providerName = providerName
        self.providerType = providerType
        self.userID = userID
        self.issuer = issuer
        self.primary = primary
        self.dateCreated = dateCreated
    }

    /// Parses the attribute's value, a JSON array such as
    /// `[{"userId":"1234","providerName":"Google","providerType":"Google","issuer":null,"primary":true,"dateCreated":1700000000000}]`.
    /// Nil when the text is not such an array: one odd attribute must not stop an import, and the
    /// caller then treats the user as a plain Cognito user. Entries without a provider name or a
    /// user ID are left out.
    public static func parse(attribute text: String) -> [FederatedIdentity]? {
        guard let entries = try? JSONDecoder().decode([Entry].self, from: Data(text.utf8)) else { return nil }
        return entries.compactMap { entry -> FederatedIdentity? in
            guard let providerName = entry.providerName, !providerName.isEmpty, let userID = entry.userId, !userID.isEmpty else {
                return nil
            }
            return FederatedIdentity(
                providerName: providerName, providerType: entry.providerType, userID: userID, issuer: entry.issuer,
                primary: entry.primary ?? false,
                dateCreated: entry.dateCreated.map { Date(timeIntervalSince1970: $0 / 1000) }
            )
        }
    }

    /// The entry that speaks for the user: the one marked primary, else the first. A user linked
    /// to several providers has one row per provider here, but one provider in the map.
    public static func preferred(in identities: [FederatedIdentity]) -> FederatedIdentity? {
        identities.first(where: \.primary) ?? identities.first
    }

    /// The attribute as Cognito writes it, decoded leniently: a number where a string is expected
    /// (or the reverse) in a hand-made file should not lose the entry.
    private struct Entry: Decodable {
        var userId: String?
        var providerName: String?
        var providerType: String?
        var issuer: String?
        var primary: Bool?
        /// Milliseconds since 1970.
        var dateCreated: Double?

        enum CodingKeys: String, CodingKey {
            case userId, providerName, providerType, issuer, primary, dateCreated
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            userId = Self.text(container, .userId)
            providerName = Self.text(container, .providerName)
            providerType = Self.text(container, .providerType)
            issuer = Self.text(container, .issuer)
            if let flag = try? container.decode(Bool.self, forKey: .primary) {
                primary = flag
            } else {
                primary = (try? container.decode(String.self, forKey: .primary)).map { $0.lowercased() == "true" }
            }
            if let number = try? container.decode(Double.self, forKey: .dateCreated) {
                dateCreated = number
            } else {
                dateCreated = (try? container.decode(String.self, forKey: .dateCreated)).flatMap { Double($0) }
            }
        }

        static func text(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> String? {
            if let text = try? container.decode(String.self, forKey: key) { return text }
            if let number = try? container.decode(Int64.self, forKey: key) { return String(number) }
            return nil
        }
    }
}

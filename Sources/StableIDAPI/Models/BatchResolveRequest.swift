// The wire shapes of a batch resolve request in the HTTP API (snake_case, as openapi.yaml describes
// them). Domain types stay free of Codable so the contract is written down in exactly one place.

struct BatchResolveRequest: Decodable {
    struct Item: Decodable {
        var pool: String?
        var iss: String?
        var sub: String

        init(pool: String?, iss: String?, sub: String) {
            self.pool = pool
            self.iss = iss
            self.sub = sub
        }

        enum CodingKeys: String, CodingKey { case pool, iss, sub }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            pool = try container.decodeUnlessAbsent(String.self, forKey: .pool)
            iss = try container.decodeUnlessAbsent(String.self, forKey: .iss)
            sub = try container.decode(String.self, forKey: .sub)
        }
    }
    var items: [Item]

    init(items: [Item]) {
        self.items = items
    }
}

import Foundation
import Hummingbird
import IdentityMap

/// Values a client spells as text — path segments, query parameters, string fields of a JSON
/// body — read into their types. A bad one is 400 `invalid_request` whose detail names the field,
/// so every route words the same mistake the same way.
enum RequestValue {
    static func uuid(_ text: String, field: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw Problem.invalidRequest("\(field) is not a UUID") }
        return id
    }

    static func poolID(_ text: String, field: String = "pool") throws -> PoolID {
        guard let id = PoolID(text) else { throw Problem.invalidRequest("\(field) is not a Cognito user pool id (region_suffix)") }
        return id
    }

    /// A boolean query parameter: `true` or `false` only, absent means `default`.
    static func bool(_ text: String?, field: String, default value: Bool = false) throws -> Bool {
        switch text {
        case nil: return value
        case "true": return true
        case "false": return false
        default: throw Problem.invalidRequest("\(field) must be true or false")
        }
    }

    /// `cursor` of a keyset-paginated route: the `next_cursor` a previous page answered (0: the start).
    static func cursor(_ parameters: Parameters) throws -> Int64 {
        try parameters.get("cursor").map { text -> Int64 in
            guard let value = Int64(text), value >= 0 else { throw Problem.invalidRequest("cursor is not a cursor from next_cursor") }
            return value
        } ?? 0
    }

    /// `limit` of a paginated route, 1 to `maximum`.
    static func limit(_ parameters: Parameters, maximum: Int, default value: Int) throws -> Int {
        try parameters.get("limit").map { text -> Int in
            guard let limit = Int(text), (1...maximum).contains(limit) else {
                throw Problem.invalidRequest("limit must be 1 to \(maximum)")
            }
            return limit
        } ?? value
    }
}

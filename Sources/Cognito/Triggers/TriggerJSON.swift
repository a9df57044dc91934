/// Any JSON value, as found in a Cognito trigger event.
///
/// Why a type of its own: a trigger's answer must be the event Cognito sent with only `response`
/// changed, so the fields this service does not model (new ones Cognito adds, `validationData`
/// a client made up) have to survive decoding and come back out unchanged. The identity map has
/// a JSON value of its own (`JSONValue`), but this module must not depend on the domain.
///
/// Integers are kept apart from other numbers so that a large integer field round-trips exactly.
/// That is also why the two are not one type in Support: `JSONValue` holds every number as a
/// `Double` and writes whole ones below 1e15 as integers, the rule event details have always
/// been written with; they become `jsonb`, whose text the audit chain hashes (docs/AUDIT.md), so
/// its numbers must not change, and this type's must not lose digits.
///
/// Object key order is not kept (Cognito reads the answer as a map); `jsonText` writes keys
/// sorted so equal values give equal bytes.
public enum TriggerJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([TriggerJSON])
    case object([String: TriggerJSON])

    /// The string, or nil when this is not a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The boolean, or nil when this is not a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The members, or nil when this is not an object.
    public var objectValue: [String: TriggerJSON]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements, or nil when this is not an array.
    public var arrayValue: [TriggerJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// True for `null`: Cognito sends `null` for every response field it leaves to the function.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member `key` of an object; nil when absent or when this is not an object.
    public subscript(key: String) -> TriggerJSON? {
        objectValue?[key]
    }
}

extension TriggerJSON: Codable {
    /// Tries each JSON type in turn. Booleans come before numbers and integers before other
    /// numbers: the decoder refuses to read `true` as a number or `1.5` as an integer, so the
    /// first match is the value's own type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([TriggerJSON].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: TriggerJSON].self) {
            self = .object(value)
        } else {
            // No value in the message: the body may hold a password.
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value):
            // JSON has no NaN or infinity; `null` is what JavaScript would write.
            if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

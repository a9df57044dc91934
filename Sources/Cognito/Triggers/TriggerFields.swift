/// Typed reads of one JSON object of a trigger event.
///
/// Every read that finds the wrong JSON type throws `TriggerEventError.malformed` naming the
/// field by its path (`request.newDeviceUsed`) and never quoting what was there. A missing field
/// and an explicit `null` read the same: Cognito writes `null` for what it has no value for.
struct TriggerFields {
    let members: [String: TriggerJSON]
    /// The path of this object in the event, with a trailing dot: "" at the top, "request.".
    let prefix: String

    init(_ members: [String: TriggerJSON], at prefix: String = "") {
        self.members = members
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix + key }

    /// A string member; nil when absent or `null`.
    func string(_ key: String) throws(TriggerEventError) -> String? {
        switch members[key] {
        case .none, .some(.null):
            return nil
        case .some(.string(let value)):
            return value
        case .some:
            throw TriggerEventError.malformed("\(path(key)) must be a string")
        }
    }

    /// A string member that must be present.
    func requiredString(_ key: String) throws(TriggerEventError) -> String {
        guard let value = try string(key) else {
            throw TriggerEventError.malformed("\(path(key)) is missing")
        }
        return value
    }

    /// A boolean member; nil when absent or `null`. The strings "true" and "false" are accepted
    /// too, because Cognito writes booleans as strings in attribute maps and a proxy between it
    /// and this service might do the same elsewhere.
    func bool(_ key: String) throws(TriggerEventError) -> Bool? {
        switch members[key] {
        case .none, .some(.null):
            return nil
        case .some(.bool(let value)):
            return value
        case .some(.string(let text)) where text.lowercased() == "true":
            return true
        case .some(.string(let text)) where text.lowercased() == "false":
            return false
        case .some:
            throw TriggerEventError.malformed("\(path(key)) must be a boolean")
        }
    }

    /// A map of strings (`userAttributes`, `clientMetadata`, `validationData`); empty when absent
    /// or `null`. Members that are `null` are left out. The error names only the map: its keys
    /// come from the client for `clientMetadata`.
    func stringMap(_ key: String) throws(TriggerEventError) -> [String: String] {
        switch members[key] {
        case .none, .some(.null):
            return [:]
        case .some(.object(let object)):
            var map: [String: String] = [:]
            for (name, value) in object {
                switch value {
                case .null:
                    continue
                case .string(let text):
                    map[name] = text
                default:
                    throw TriggerEventError.malformed("\(path(key)) must map names to strings")
                }
            }
            return map
        case .some:
            throw TriggerEventError.malformed("\(path(key)) must be an object")
        }
    }

    /// An array of strings (`scopes`, `groupsToOverride`); nil when absent or `null`.
    func stringArray(_ key: String) throws(TriggerEventError) -> [String]? {
        switch members[key] {
        case .none, .some(.null):
            return nil
        case .some(.array(let elements)):
            var strings: [String] = []
            for element in elements {
                guard let text = element.stringValue else {
                    throw TriggerEventError.malformed("\(path(key)) must be an array of strings")
                }
                strings.append(text)
            }
            return strings
        case .some:
            throw TriggerEventError.malformed("\(path(key)) must be an array")
        }
    }

    /// A nested object, read with the same rules; nil when absent or `null`.
    func object(_ key: String) throws(TriggerEventError) -> TriggerFields? {
        switch members[key] {
        case .none, .some(.null):
            return nil
        case .some(.object(let object)):
            return TriggerFields(object, at: path(key) + ".")
        case .some:
            throw TriggerEventError.malformed("\(path(key)) must be an object")
        }
    }
}

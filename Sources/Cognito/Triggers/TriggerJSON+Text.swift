import Support

extension TriggerJSON {
    /// Compact JSON text with object keys sorted.
    ///
    /// Written by hand rather than with `JSONEncoder` so that writing an answer cannot fail (the
    /// endpoint has 5 s and no good way to report an encoder error to Cognito) and so equal
    /// values always give equal bytes, which the tests and any stored answer rely on. Strings are
    /// escaped as Support's ``JSONString`` spells them, the same as the lookup answers.
    public var jsonText: String {
        var text = ""
        write(to: &text)
        return text
    }

    private func write(to text: inout String) {
        switch self {
        case .null:
            text += "null"
        case .bool(let value):
            text += value ? "true" : "false"
        case .integer(let value):
            text += String(value)
        case .number(let value):
            // Swift prints a finite Double as valid JSON ("1.0", "1e+20", "1.5e-07").
            text += value.isFinite ? "\(value)" : "null"
        case .string(let value):
            text += JSONString.quoted(value)
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                element.write(to: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                text += JSONString.quoted(key)
                text += ":"
                members[key]?.write(to: &text)
            }
            text += "}"
        }
    }
}

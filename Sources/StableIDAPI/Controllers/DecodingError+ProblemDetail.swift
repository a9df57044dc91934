extension DecodingError {
    /// The `detail` of the 400 answered for a body that does not decode: the path of the field at
    /// fault (`identities[0].sub`) and the JSON type it must be, in the wire format's words rather
    /// than the decoder's, which names Swift types and coding keys.
    var problemDetail: String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "body" : text)
        }
        switch self {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.jsonTypeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.jsonTypeName(type)), not null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context.codingPath)) is invalid"
        @unknown default:
            return "the body does not match the expected shape"
        }
    }

    /// The JSON type a request field of Swift type `type` is sent as, with its article.
    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        default: return String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

import Foundation

extension UUID {
    /// Lower-case canonical form, without Foundation's `sprintf`-based `uuidString`.
    var lowercasedString: String {
        var writer = JSONWriter(capacity: 38)
        writer.uuid(self)
        return String(decoding: writer.bytes.dropFirst().dropLast(), as: UTF8.self)
    }
}

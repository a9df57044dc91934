import Foundation
import Support

/// CSV: a header naming the columns, then a user per row (quoted fields may hold newlines).
extension UserFileReader {
    /// Header positions: the known columns by lower-cased name, `custom:*` with their own spelling
    /// (Cognito attribute names are case-sensitive).
    struct CSVColumns {
        var known: [String: Int]
        var custom: [(name: String, index: Int)]
    }

    private func readLine() throws -> [UInt8]? {
        // A quoted field may contain newlines: a line ends at a newline outside quotes.
        var row: [UInt8] = []
        var inQuotes = false
        while true {
            guard let byte = try peek() else {
                return row.isEmpty ? nil : row
            }
            position += 1
            if byte == ASCII.quote { inQuotes.toggle() }
            if byte == ASCII.lineFeed, !inQuotes {
                if row.last == ASCII.carriageReturn { row.removeLast() }
                return row
            }
            row.append(byte)
        }
    }

    static func fields(_ line: [UInt8]) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var index = 0
        while index < line.count {
            let byte = line[index]
            if inQuotes {
                if byte == ASCII.quote {
                    if index + 1 < line.count, line[index + 1] == ASCII.quote {
                        current.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    current.append(byte)
                }
            } else if byte == ASCII.quote {
                inQuotes = true
            } else if byte == ASCII.comma {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
            index += 1
        }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }

    private func readCSVHeader() throws -> CSVColumns? {
        guard let header = try readLine() else { return nil }
        csvLine = 1
        var known: [String: Int] = [:]
        var custom: [(name: String, index: Int)] = []
        for (index, field) in Self.fields(header).enumerated() {
            let name = field.trimmingCharacters(in: .whitespaces)
            if name.lowercased().hasPrefix("custom:") {
                custom.append((name, index))
            } else {
                known[name.lowercased()] = index
            }
        }
        guard known["sub"] != nil else { throw Failure.csvHeader("needs a sub column") }
        guard known["cognito:username"] != nil || known["username"] != nil else {
            throw Failure.csvHeader("needs a cognito:username (or username) column")
        }
        return CSVColumns(known: known, custom: custom)
    }

    func nextCSV(max: Int) throws -> [UserType] {
        if csvColumns == nil { csvColumns = try readCSVHeader() }
        guard let columns = csvColumns else { return [] }
        var users: [UserType] = []
        while users.count < max, let row = try readLine() {
            csvLine += 1
            if row.isEmpty { continue }
            let values = Self.fields(row)
            func field(at index: Int?) -> String? {
                guard let index, index < values.count, !values[index].isEmpty else { return nil }
                return values[index]
            }
            func value(_ name: String) -> String? { field(at: columns.known[name]) }
            guard let username = value("cognito:username") ?? value("username") else {
                throw Failure.csvRow(line: csvLine, reason: "no username")
            }
            var attributes: [AttributeType] = []
            for name in ["sub", "email", "email_verified", "identities"] {
                if let text = value(name) { attributes.append(AttributeType(name, text)) }
            }
            for column in columns.custom {
                if let text = field(at: column.index) { attributes.append(AttributeType(column.name, text)) }
            }
            let enabled = value("enabled").map { $0.lowercased() != "false" }
            users.append(UserType(Username: username, Attributes: attributes, Enabled: enabled, UserStatus: value("status")))
        }
        return users
    }
}

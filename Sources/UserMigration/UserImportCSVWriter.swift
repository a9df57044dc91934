import Foundation

/// Writes Cognito user-import CSV files: `<directory>/<name>-0001.csv`, `-0002.csv`, …, each with
/// the header, a new file started before one would pass an import job's limits (500,000 users or
/// 100 MB; docs: "Importing users into a user pool"). Fields are quoted per RFC 4180 when they hold
/// a comma, a quote or a line break.
///
/// Memory stays flat: rows go through a buffer of about a megabyte. A file is written as
/// `….csv.partial` and renamed when it is complete, so a killed run never leaves a file that looks
/// finished. Files are readable by their owner only (0600): they hold emails, phone numbers, names
/// and addresses. Used by one task; not `Sendable`.
final class UserImportCSVWriter {
    static let maxUsersPerFile = 500_000
    /// 100 MB as AWS counts them; decimal, so a file never passes the limit however it is counted.
    static let maxBytesPerFile = 100_000_000
    static let flushBytes = 1 << 20
    /// Owner read and write only.
    static let fileMode = 0o600

    let directory: URL
    let name: String
    let header: [String]
    let maxUsers: Int
    let maxBytes: Int
    private let headerLine: [UInt8]
    private var handle: FileHandle?
    private var buffer: [UInt8] = []
    private var fileUsers = 0
    private var fileBytes = 0
    private(set) var files: [String] = []
    private(set) var users = 0

    init(
        directory: URL, name: String, header: [String], maxUsers: Int = UserImportCSVWriter.maxUsersPerFile,
        maxBytes: Int = UserImportCSVWriter.maxBytesPerFile
    ) throws {
        self.directory = directory
        self.name = Self.fileStem(name)
        self.header = header
        self.maxUsers = max(1, maxUsers)
        let headerLine = Self.line(header)
        self.headerLine = headerLine
        self.maxBytes = max(maxBytes, headerLine.count + 1)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MigrationError.invalidCampaign("--out \(directory.path) is not a directory")
        }
        if FileManager.default.fileExists(atPath: path(1)) {
            throw MigrationError.invalidCampaign("\(path(1)) exists already: choose an empty --out directory")
        }
    }

    /// One user: `values` in the header's order.
    func write(_ values: [String]) throws {
        let row = Self.line(values)
        if handle == nil || fileUsers >= maxUsers || fileBytes + row.count > maxBytes { try startFile() }
        buffer += row
        fileUsers += 1
        fileBytes += row.count
        users += 1
        if buffer.count >= Self.flushBytes { try flush() }
    }

    /// Completes the last file. Returns every file written (none when no user was written).
    func finish() throws -> [String] {
        try closeFile()
        return files
    }

    /// The stem files are named by: letters, digits, `.`, `_` and `-` of the campaign's name.
    static func fileStem(_ name: String) -> String {
        let kept = name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                ? Character(scalar) : "_"
        }
        return kept.isEmpty ? "campaign" : String(kept)
    }

    /// A CSV line (CRLF-free: `\n`), each field quoted when it must be.
    static func line(_ values: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.reduce(values.count) { $0 + $1.utf8.count })
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendField(value, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// One field per RFC 4180: as is, or in double quotes with its quotes doubled. Appended in
    /// place: a million users are twenty million fields, so no array or set per field.
    static func appendField(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        let needsQuotes = utf8.contains { byte in
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
        }
        guard needsQuotes else {
            out.append(contentsOf: utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in utf8 {
            out.append(byte)
            if byte == UInt8(ascii: "\"") { out.append(byte) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// One field alone (tests).
    static func field(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        appendField(value, to: &out)
        return out
    }

    private func path(_ number: Int) -> String {
        let digits = String(number)
        let padded = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        return directory.appendingPathComponent("\(name)-\(padded).csv").path
    }

    private func startFile() throws {
        try closeFile()
        let final = path(files.count + 1)
        let partial = final + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: Self.fileMode]),
            let opened = FileHandle(forWritingAtPath: partial)
        else { throw MigrationError.invalidCampaign("cannot write \(partial)") }
        // Before the first row, whatever the umask and however `createFile` applied the attributes.
        try FileManager.default.setAttributes([.posixPermissions: Self.fileMode], ofItemAtPath: partial)
        handle = opened
        files.append(final)
        buffer = headerLine
        fileUsers = 0
        fileBytes = headerLine.count
    }

    private func flush() throws {
        guard let handle, !buffer.isEmpty else { return }
        try handle.write(contentsOf: Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    private func closeFile() throws {
        guard let handle, let final = files.last else { return }
        try flush()
        try handle.synchronize()
        try handle.close()
        self.handle = nil
        guard rename(final + ".partial", final) == 0 else { throw MigrationError.invalidCampaign("cannot rename \(final).partial") }
    }
}

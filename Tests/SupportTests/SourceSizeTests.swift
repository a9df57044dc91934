import Foundation
import Testing

/// The size limits the codebase keeps (issue #19): no function over 80 lines and no file over 450
/// lines in Sources, unless the file says at its top why ("longer than 450 lines because …").
/// Read as text: a function is a `func` or `init` line and the first line after it that closes
/// at the same indentation.
@Suite("Source sizes", .timeLimit(.minutes(2)))
struct SourceSizeTests {
    static let maxFunctionLines = 80
    static let maxFileLines = 450

    static func sourceFiles() -> [URL] {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return files.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// `(name, lines)` of every function and initializer in `text` longer than `limit`.
    static func longFunctions(in text: String, limit: Int) throws -> [(String, Int)] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let declaration = try Regex(
            #"^(\s*)(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|package|static|class|override|mutating|nonisolated|final|convenience|required)\s+)*(func\s+[^\s(<]+|init[?!]?)\s*[(<]"#
        )
        var long: [(String, Int)] = []
        for (start, line) in lines.enumerated() {
            guard let match = try declaration.firstMatch(in: String(line)),
                let indent = match.output[1].substring, let name = match.output[2].substring
            else { continue }
            let closing = indent + "}"
            guard let end = lines[(start + 1)...].firstIndex(where: { $0 == closing }) else { continue }
            if end - start + 1 > limit { long.append((String(name), end - start + 1)) }
        }
        return long
    }

    @Test("no function in Sources is longer than 80 lines")
    func functions() throws {
        var found: [String] = []
        var scanned = 0
        for file in Self.sourceFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            scanned += text.components(separatedBy: "func ").count - 1
            for (name, lines) in try Self.longFunctions(in: text, limit: Self.maxFunctionLines) {
                found.append("\(file.lastPathComponent): \(name) is \(lines) lines")
            }
        }
        #expect(scanned > 500, "the scan found the functions")
        #expect(found == [], "cut these into named steps")
        // The scanner itself sees a long function.
        let long = "    func tooLong() {\n" + String(repeating: "        step()\n", count: 90) + "    }\n"
        #expect(try Self.longFunctions(in: long, limit: Self.maxFunctionLines).map(\.0) == ["func tooLong"])
    }

    @Test("no file in Sources is longer than 450 lines unless it says why")
    func files() throws {
        var found: [String] = []
        for file in Self.sourceFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            let top = text.split(separator: "\n").prefix(15).joined(separator: "\n").lowercased()
            if lines > Self.maxFileLines, !top.contains("longer than 450 lines because") {
                found.append("\(file.lastPathComponent): \(lines) lines")
            }
        }
        #expect(found == [], "cut these along their seams, or say at their top why not")
    }
}

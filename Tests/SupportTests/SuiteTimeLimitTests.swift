import Foundation
import Testing

/// Every suite has a time limit (issue #24): a regression of "never hangs" must fail its tests
/// instead of hanging the whole run. Read as text, as SourceSizeTests reads Sources: each line of
/// Tests/ that starts with `@Suite` must name `.timeLimit(` before the declaration the attribute
/// marks (the attribute may span lines).
@Suite("Suite time limits", .timeLimit(.minutes(2)))
struct SuiteTimeLimitTests {
    static func testFiles() -> [URL] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return files.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// How many `@Suite` attributes `text` has, and the first line of each that names no time limit.
    static func suites(in text: String) -> (count: Int, withoutLimit: [String]) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var count = 0
        var withoutLimit: [String] = []
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("@Suite") else { continue }
            count += 1
            var attribute = ""
            for next in lines[index...] {
                attribute += next + "\n"
                if next.range(of: #"\b(struct|class|enum|actor|extension)\s"#, options: .regularExpression) != nil { break }
            }
            if !attribute.contains(".timeLimit(") { withoutLimit.append(trimmed) }
        }
        return (count, withoutLimit)
    }

    @Test("every @Suite in Tests/ has a .timeLimit")
    func everySuiteHasATimeLimit() throws {
        var scanned = 0
        var missing: [String] = []
        for file in Self.testFiles() {
            let found = Self.suites(in: try String(contentsOf: file, encoding: .utf8))
            scanned += found.count
            missing += found.withoutLimit.map { "\(file.lastPathComponent): \($0)" }
        }
        #expect(scanned > 80, "the scan found the suites")
        #expect(missing == [], "give these suites a .timeLimit(.minutes(N)) trait")
        // The scanner itself: a suite without a limit is seen, on one line or several; one whose
        // limit is on a later line of the attribute is not.
        #expect(Self.suites(in: "@Suite(\"x\")\nstruct X {}\n").withoutLimit == [#"@Suite("x")"#])
        #expect(Self.suites(in: "    @Suite struct Z {}\n").withoutLimit == ["@Suite struct Z {}"])
        let spread = Self.suites(in: "@Suite(\n    \"y\", .timeLimit(.minutes(1))\n)\nstruct Y {}\n")
        #expect(spread.count == 1 && spread.withoutLimit.isEmpty)
    }
}

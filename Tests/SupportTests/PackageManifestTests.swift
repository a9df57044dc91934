import Foundation
import Testing

/// Package.swift and docs/ARCHITECTURE.md each say what every module depends on; the `import`s
/// of its files say what it really does. These tests read all three as text (no build, no
/// `swift package`) and fail, naming the module, wherever they disagree.
@Suite("Package.swift and docs/ARCHITECTURE.md", .timeLimit(.minutes(2)))
struct PackageManifestTests {
    /// The toolchain's own modules: a target imports them without declaring anything.
    static let toolchainModules: Set<String> = [
        "Foundation", "FoundationEssentials", "FoundationNetworking", "Synchronization", "Dispatch", "Glibc", "Musl", "Darwin",
        "Testing", "XCTest",
    ]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("every target declares exactly the modules its files import")
    func manifestMatchesImports() throws {
        let manifest = try PackageManifest(root: Self.root)
        #expect(manifest.targets.count > 20, "Package.swift was not read: \(manifest.targets.map(\.name))")
        var problems: [String] = []
        for target in manifest.targets {
            let imports = try target.imports(root: Self.root).subtracting(Self.toolchainModules)
            let undeclared = imports.subtracting(target.dependencies)
            let unused = target.dependencies.subtracting(imports)
            if !undeclared.isEmpty { problems.append("\(target.name) imports \(undeclared.sorted()) but does not declare them") }
            if !unused.isEmpty { problems.append("\(target.name) declares \(unused.sorted()) but imports none of them") }
        }
        #expect(problems == [])
        // The parser itself: a known edge of each kind is seen.
        let api = try #require(manifest.targets.first(where: { $0.name == "StableIDAPI" }))
        #expect(api.dependencies.isSuperset(of: ["Hummingbird", "IdentityMap"]))
        #expect(try api.imports(root: Self.root).isSuperset(of: ["Hummingbird", "IdentityMap", "Foundation"]))
    }

    @Test("the module table of docs/ARCHITECTURE.md lists every module with what it imports")
    func architectureTableMatchesImports() throws {
        let manifest = try PackageManifest(root: Self.root)
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let known = Set(manifest.targets.map(\.name)).union(manifest.targets.flatMap(\.dependencies))
        let table = Self.moduleTable(in: text)
        #expect(table.count > 10, "the module table of docs/ARCHITECTURE.md was not found")
        let sources = manifest.targets.filter { $0.path.hasPrefix("Sources/") }
        var problems: [String] = []
        for row in table {
            for name in row.dependsOn.subtracting(known).sorted() {
                problems.append("the row of \(row.modules) names \(name), which is no module or product of the package")
            }
        }
        for module in table.flatMap(\.modules) where !sources.contains(where: { $0.name == module }) {
            problems.append("the table has a row for \(module), which is not a module under Sources/")
        }
        for target in sources {
            guard let row = table.first(where: { $0.modules.contains(target.name) }) else {
                problems.append("the table has no row for \(target.name)")
                continue
            }
            let imports = try target.imports(root: Self.root).subtracting(Self.toolchainModules)
            let listed = row.dependsOn
            if imports != listed {
                problems.append(
                    "\(target.name): the table says \(listed.sorted()), its files import \(imports.sorted())"
                        + " (missing \(imports.subtracting(listed).sorted()), extra \(listed.subtracting(imports).sorted()))"
                )
            }
        }
        #expect(problems == [])
    }

    /// A row of the table under `## Modules`: its first cell names one or more modules, its last
    /// says what they depend on, comma-separated. Prose there ("the system libraries", "–") names
    /// nothing; every single word does.
    struct Row {
        var modules: [String]
        var dependsOn: Set<String>
    }

    static func moduleTable(in text: String) -> [Row] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let heading = lines.firstIndex(where: { $0.hasPrefix("## Modules") }),
            let start = lines[heading...].firstIndex(where: { $0.hasPrefix("|") })
        else { return [] }
        let tableLines = lines[start...].prefix(while: { $0.hasPrefix("|") }).dropFirst(2)  // the header and its rule
        return tableLines.map { line -> Row in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let modules = cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let entries = cells[cells.count - 2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let names = entries.filter { entry in
                guard let first = entry.first, first.isLetter else { return false }
                return entry.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            }
            return Row(modules: modules, dependsOn: Set(names))
        }
    }
}

import Foundation

/// Package.swift's targets read as text: each declaration's name, folder and dependency list.
/// Enough for this package's manifest (one declaration per `.target(`, `.testTarget(`,
/// `.executableTarget(` or `.systemLibrary(`, `name:` first), not a Swift parser.
struct PackageManifest {
    struct Target {
        var name: String
        /// Relative to the package root: `path:` when given, else `Sources/<name>` or `Tests/<name>`.
        var path: String
        /// Target names and product names, as the dependency list spells them.
        var dependencies: Set<String>

        /// The modules this target's Swift files import (`@testable`, access levels and `import
        /// struct M.T` included); only top-level lines, so an `import` inside a string is not one.
        func imports(root: URL) throws -> Set<String> {
            let folder = root.appendingPathComponent(path)
            var modules: Set<String> = []
            for file in try FileManager.default.subpathsOfDirectory(atPath: folder.path) where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    if let module = Self.importedModule(line) { modules.insert(module) }
                }
            }
            return modules
        }

        static let modifiers: Set<Substring> = ["public", "package", "internal", "fileprivate", "private"]
        static let kinds: Set<Substring> = ["class", "struct", "enum", "protocol", "func", "var", "let", "typealias"]

        static func importedModule(_ line: Substring) -> String? {
            guard let first = line.first, !first.isWhitespace else { return nil }
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })[...]
            while let word = words.first, word.hasPrefix("@") || modifiers.contains(word) { words = words.dropFirst() }
            guard words.first == "import" else { return nil }
            words = words.dropFirst()
            if let word = words.first, kinds.contains(word) { words = words.dropFirst() }
            guard let module = words.first?.split(separator: ".").first else { return nil }
            return String(module)
        }
    }

    var targets: [Target]

    init(root: URL) throws {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let kinds = [".target(": "Sources/", ".executableTarget(": "Sources/", ".systemLibrary(": "Sources/", ".testTarget(": "Tests/"]
        var starts: [(range: Range<String.Index>, folder: String)] = []
        for (marker, folder) in kinds {
            var from = text.startIndex
            while let range = text.range(of: marker, range: from..<text.endIndex) {
                starts.append((range, folder))
                from = range.upperBound
            }
        }
        starts.sort { $0.range.lowerBound < $1.range.lowerBound }
        targets = starts.indices.compactMap { index -> Target? in
            let end = index + 1 < starts.count ? starts[index + 1].range.lowerBound : text.endIndex
            let declaration = text[starts[index].range.upperBound..<end]
            guard let name = Self.quoted(after: "name:", in: declaration) else { return nil }
            return Target(
                name: name,
                path: Self.quoted(after: "path:", in: declaration) ?? starts[index].folder + name,
                dependencies: Self.dependencies(in: declaration)
            )
        }
    }

    /// The first string literal after `label`.
    static func quoted(after label: String, in text: Substring) -> String? {
        guard let labelRange = text.range(of: label) else { return nil }
        let rest = text[labelRange.upperBound...]
        guard let open = rest.firstIndex(of: "\"") else { return nil }
        let value = rest[rest.index(after: open)...]
        guard let close = value.firstIndex(of: "\"") else { return nil }
        return String(value[..<close])
    }

    /// The names in `dependencies: [...]`: each string literal, except a product's `package:`.
    static func dependencies(in declaration: Substring) -> Set<String> {
        guard let label = declaration.range(of: "dependencies:"),
            let open = declaration[label.upperBound...].firstIndex(of: "[")
        else { return [] }
        var depth = 0
        var close = declaration.endIndex
        for index in declaration[open...].indices {
            if declaration[index] == "[" { depth += 1 }
            if declaration[index] == "]" {
                depth -= 1
                if depth == 0 {
                    close = index
                    break
                }
            }
        }
        // Split at quotes: the odd pieces are the literals, each even piece says what precedes one.
        let pieces = declaration[open..<close].split(separator: "\"", omittingEmptySubsequences: false)
        var names: Set<String> = []
        for index in stride(from: 1, to: pieces.count, by: 2)
        where !pieces[index - 1].trimmingCharacters(in: .whitespaces).hasSuffix("package:") {
            names.insert(String(pieces[index]))
        }
        return names
    }
}

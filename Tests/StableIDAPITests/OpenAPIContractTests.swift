import Foundation
import HTTPTypes
import StableIDAPI
import Testing

@Suite("openapi.yaml", .timeLimit(.minutes(2)))
struct OpenAPIContractTests {
    static var document: String {
        get throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            return try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        }
    }

    /// `path → [methods]` from the `paths:` section (two-space path keys, four-space method keys).
    static func operations(in yaml: String) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        var current: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") {
                inPaths = true
                continue
            }
            if inPaths, !line.isEmpty, !line.hasPrefix(" ") { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                result[current!] = []
            } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                result[path]!.insert(String(line.dropFirst(4).dropLast()))
            }
        }
        return result
    }

    @Test("documents every route the router serves, and no route it does not")
    func coversRoutes() throws {
        let documented = Self.operations(in: try Self.document)
        var served: [String: Set<String>] = ["/healthz": ["get"], "/readyz": ["get"], "/metrics": ["get"]]
        for route in protectedRoutes.map({ ($0.method, $0.template) }) + reportRoutes.map({ ($0.method, $0.template) }) {
            served[route.1, default: []].insert(route.0.rawValue.lowercased())
        }
        #expect(documented.mapValues { $0.subtracting(["parameters"]) } == served)
    }

    @Test("the route table behind 405 answers lists exactly the routes served")
    func routeTable() throws {
        var served: [String: Set<String>] = ["/healthz": ["get"], "/readyz": ["get"], "/metrics": ["get"]]
        for route in protectedRoutes.map({ ($0.method, $0.template) }) + reportRoutes.map({ ($0.method, $0.template) }) {
            served[route.1, default: []].insert(route.0.rawValue.lowercased())
        }
        var table: [String: Set<String>] = [:]
        for route in RouteTable.routes {
            table[route.template, default: []].insert(route.method.rawValue.lowercased())
        }
        #expect(table == served)
    }

    /// The `code` enum of the Problem schema: the codes a client may see.
    static func problemCodes(in yaml: String) throws -> Set<String> {
        let start = try #require(yaml.range(of: "enum: [unauthorized"))
        let end = try #require(yaml.range(of: "]", range: start.upperBound..<yaml.endIndex))
        let list = yaml[yaml.index(start.lowerBound, offsetBy: "enum: [".count)..<end.lowerBound]
        return Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
    }

    /// Every `code: "…"` the API module answers with (Problem.swift and the controllers).
    static func codesInSources() throws -> Set<String> {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("Sources/StableIDAPI")
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        let pattern = try Regex(#"code: "([a-z_]+)""#)
        var codes: Set<String> = []
        for file in files where file.pathExtension == "swift" {
            for match in try String(contentsOf: file, encoding: .utf8).matches(of: pattern) {
                if let code = match.output[1].substring { codes.insert(String(code)) }
            }
        }
        return codes
    }

    @Test("the Problem schema's code enum lists every code the API answers with, and the bearer scheme is documented")
    func documentsErrors() throws {
        let yaml = try Self.document
        let documented = try Self.problemCodes(in: yaml)
        let answered = try Self.codesInSources()
        #expect(answered.count >= 30, "the scan found the codes: \(answered.sorted())")
        #expect(answered.subtracting(documented).isEmpty, "codes missing from openapi.yaml: \(answered.subtracting(documented).sorted())")
        #expect(yaml.contains("bearerFormat"))
    }

    /// Every `EventKind(rawValue: "…")` the sources declare (as EventDetailsAgreementTests scans).
    static func kindsInSources() throws -> Set<String> {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        let pattern = try Regex(#"EventKind\(rawValue: "([a-z_]+)"\)"#)
        var kinds: Set<String> = []
        for file in files where file.pathExtension == "swift" {
            for match in try String(contentsOf: file, encoding: .utf8).matches(of: pattern) {
                if let kind = match.output[1].substring { kinds.insert(String(kind)) }
            }
        }
        return kinds
    }

    @Test("the Event schema's kind enum is exactly the kinds the service writes")
    func documentsEventKinds() throws {
        let yaml = try Self.document
        let start = try #require(yaml.range(of: "enum: [\n          user_created"))
        let end = try #require(yaml.range(of: "]", range: start.upperBound..<yaml.endIndex))
        let list = yaml[yaml.index(start.lowerBound, offsetBy: "enum: [".count)..<end.lowerBound]
        let documented = Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let declared = try Self.kindsInSources()
        #expect(declared.count >= 25, "the scan found the kinds: \(declared.sorted())")
        #expect(
            documented == declared,
            "missing: \(declared.subtracting(documented).sorted()), extra: \(documented.subtracting(declared).sorted())")
    }
}

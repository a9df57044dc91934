import Foundation
import HTTPTypes
import StableIDAPI
import Testing

@Suite("openapi.yaml")
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
        for route in protectedRoutes {
            served[route.template, default: []].insert(route.method.rawValue.lowercased())
        }
        #expect(documented.mapValues { $0.subtracting(["parameters"]) } == served)
    }

    @Test("the route table behind 405 answers lists exactly the routes served")
    func routeTable() throws {
        var served: [String: Set<String>] = ["/healthz": ["get"], "/readyz": ["get"], "/metrics": ["get"]]
        for route in protectedRoutes {
            served[route.template, default: []].insert(route.method.rawValue.lowercased())
        }
        var table: [String: Set<String>] = [:]
        for route in RouteTable.routes {
            table[route.template, default: []].insert(route.method.rawValue.lowercased())
        }
        #expect(table == served)
    }

    @Test("documents the problem codes and the bearer scheme")
    func documentsErrors() throws {
        let yaml = try Self.document
        for code in [
            "unauthorized", "forbidden", "not_found", "invalid_request", "identity_already_linked", "payload_too_large",
            "idempotency_key_reused", "database_unavailable", "unknown_pool", "batch_too_large", "user_not_active",
            "invalid_sub", "method_not_allowed", "request_timeout", "overloaded", "database_timeout", "idempotency_key_in_use",
            "pool_not_allowed", "pools_need_trigger_scope",
        ] {
            #expect(yaml.contains(code), "\(code)")
        }
        #expect(yaml.contains("bearerFormat"))
    }
}

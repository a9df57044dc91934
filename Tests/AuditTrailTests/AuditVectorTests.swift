import AuditTrail
import CryptoPrimitives
import Foundation
import Support
import TestSupport
import Testing

/// docs/AUDIT.md is the auditor's specification: its test vectors and its `openssl` recipe are
/// read from the document itself and re-derived here, so the document cannot drift from the code.
@Suite("docs/AUDIT.md vectors", .timeLimit(.minutes(2)))
struct AuditVectorTests {
    static let auditDocument = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/AUDIT.md")

    /// The text between `<!-- name -->` and `<!-- /name -->`, without its code fence.
    static func section(_ name: String) throws -> String {
        let text = try String(contentsOf: auditDocument, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- \(name) -->")), end = try #require(text.range(of: "<!-- /\(name) -->"))
        let lines = text[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        return lines.filter { !$0.hasPrefix("```") }.joined(separator: "\n")
    }

    static func vectors() throws -> [String: String] {
        var values: [String: String] = [:]
        for line in try section("test-vectors").split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...]
            values[String(line[..<colon])] = String(value.hasPrefix(" ") ? value.dropFirst() : value)
        }
        return values
    }

    func event(_ v: [String: String], _ prefix: String) throws -> CanonicalEvent {
        func field(_ name: String) throws -> String { try #require(v["\(prefix).\(name)"], "\(prefix).\(name) missing") }
        let digest = try field("personal_digest")
        return CanonicalEvent(
            seq: Int64(try field("seq"))!, eventID: Int64(try field("event_id"))!, occurredAt: try field("occurred_at"),
            actor: try field("actor"), kind: try field("kind"), userID: try field("user_id"), poolID: try field("pool_id"),
            sub: try field("sub"), details: try field("details"), requestID: try field("request_id"),
            personalDigest: digest.isEmpty ? nil : Hex.decode(digest)
        )
    }

    @Test("position bytes and hashes, the personal digest and the checkpoint signature re-derive from their inputs")
    func vectors() throws {
        let v = try Self.vectors()
        #expect(v.count >= 35)
        let digest = CanonicalEvent.personalDigest(
            salt: try #require(Hex.decode(v["personal.salt_hex"] ?? "")), data: v["personal.data"] ?? "")
        #expect(Hex.encode(digest) == v["personal.digest"])
        var previous = CanonicalEvent.genesis
        for prefix in ["position_1", "position_2"] {
            let event = try event(v, prefix)
            #expect(Hex.encode(event.bytes) == v["\(prefix).bytes_hex"], "\(prefix) bytes")
            #expect(Hex.encode(previous) == v["\(prefix).prev_hash"])
            previous = event.chainHash(previous: previous)
            #expect(Hex.encode(previous) == v["\(prefix).hash"], "\(prefix) hash")
        }
        let privateKey = try #require(Hex.decode(v["checkpoint.private_key_hex"] ?? ""))
        let head = AuditChain.Head(size: Int64(v["checkpoint.size"] ?? "") ?? -1, hash: Hex.encode(previous))
        let checkpoint = try Checkpoint.sign(
            head: head, privateKey: privateKey, at: try #require(RFC3339.parse(v["checkpoint.created_at"] ?? "")))
        #expect(checkpoint.headHash == v["checkpoint.head_hash"] && checkpoint.createdAt == v["checkpoint.created_at"])
        #expect(checkpoint.publicKey == v["checkpoint.public_key"])
        #expect(Hex.encode(checkpoint.signedMessage) == v["checkpoint.signed_message_hex"])
        #expect(checkpoint.signature == v["checkpoint.signature"])
    }

    @Test("the bash + openssl recipe recomputes position 2's hash from its bytes")
    func hashRecipe() throws {
        let v = try Self.vectors()
        try withTemporaryDirectory("hash-recipe") { dir in
            try Data(try #require(Hex.decode(v["position_2.bytes_hex"] ?? ""))).write(to: dir.appendingPathComponent("bytes"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", try Self.section("hash-recipe")]
            process.currentDirectoryURL = dir
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(text.hasPrefix(try #require(v["position_2.hash"])), "\(text)")
        }
    }

    @Test("the openssl recipe accepts the vector checkpoint as stableid writes it, and refuses an altered one")
    func opensslRecipe() throws {
        let v = try Self.vectors()
        let recipe = try Self.section("openssl-recipe")
        let checkpoint = try Checkpoint.sign(
            head: AuditChain.Head(size: 2, hash: v["checkpoint.head_hash"] ?? ""),
            privateKey: try #require(Hex.decode(v["checkpoint.private_key_hex"] ?? "")),
            at: try #require(RFC3339.parse(v["checkpoint.created_at"] ?? ""))
        )
        // Written exactly as `stableid audit checkpoint` writes it.
        let encoder = JSONEncoder.sortedKeys()
        encoder.outputFormatting.insert(.prettyPrinted)
        let good = try encoder.encode(checkpoint)
        var altered = checkpoint
        altered.size = 1
        for (document, expected) in [
            (good, "Signature Verified Successfully"), (try encoder.encode(altered), "Signature Verification Failure"),
        ] {
            try withTemporaryDirectory("recipe") { dir in
                try document.write(to: dir.appendingPathComponent("checkpoint.json"))
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = ["-c", recipe]
                process.currentDirectoryURL = dir
                let output = Pipe()
                process.standardOutput = output
                process.standardError = output
                try process.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(text.contains(expected), "\(text)")
                #expect((process.terminationStatus == 0) == (expected == "Signature Verified Successfully"))
            }
        }
    }
}

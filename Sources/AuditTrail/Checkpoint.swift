import CryptoPrimitives
public import Foundation
import Support

/// A signed statement "the chain had `size` events and this head hash", kept by an auditor
/// outside the database. Any later rewrite of the first `size` events, or a truncation below it,
/// no longer matches — even one by a database superuser who recomputed every hash.
public struct Checkpoint: Sendable, Codable, Equatable {
    public var version = "stableid-checkpoint-v1"
    public var size: Int64
    public var headHash: String
    public var createdAt: String
    /// Base64 of the 32-byte Ed25519 public key.
    public var publicKey: String
    /// Base64 of the 64-byte Ed25519 signature over ``signedMessage``.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case version, size, signature
        case headHash = "head_hash"
        case createdAt = "created_at"
        case publicKey = "public_key"
    }

    /// `stableid-checkpoint-v1\n<size>\n<head hash hex>\n<created_at>\n`
    public var signedMessage: [UInt8] {
        Array("\(version)\n\(size)\n\(headHash)\n\(createdAt)\n".utf8)
    }

    public static func sign(head: AuditChain.Head, privateKey: [UInt8], at date: Date = Date()) throws -> Checkpoint {
        var checkpoint = Checkpoint(
            size: head.size, headHash: head.hash, createdAt: RFC3339.format(date),
            publicKey: Data(try Ed25519.publicKey(forPrivateKey: privateKey)).base64EncodedString(), signature: ""
        )
        checkpoint.signature = Data(try Ed25519.sign(checkpoint.signedMessage, privateKey: privateKey)).base64EncodedString()
        return checkpoint
    }

    /// Nil when the signature is valid and made with `trustedKey`; otherwise what is wrong.
    func signatureProblem(trustedKey: [UInt8]?) -> String? {
        guard version == "stableid-checkpoint-v1" else { return "the checkpoint's version is not stableid-checkpoint-v1" }
        guard let key = Data(base64Encoded: publicKey).map(Array.init), let signature = Data(base64Encoded: signature).map(Array.init),
            Ed25519.verify(signature, of: signedMessage, publicKey: key)
        else {
            return "the checkpoint's signature is not valid"
        }
        if let trustedKey, trustedKey != key {
            return "the checkpoint was signed by another key"
        }
        return nil
    }

    /// Nil when the checkpoint is authentic and the chain contains it.
    func check(against hashes: [Int64: [UInt8]], chainSize: Int64, trustedKey: [UInt8]?) -> ChainVerifier.Problem? {
        if let problem = signatureProblem(trustedKey: trustedKey) {
            return .init(position: size, kind: .checkpointMismatch, detail: problem)
        }
        guard size <= chainSize else {
            return .init(
                position: chainSize + 1, kind: .checkpointMismatch,
                detail: "the chain has \(chainSize) events but a checkpoint saw \(size): truncated")
        }
        guard size == 0 || hashes[size].map({ Hex.encode($0) }) == headHash else {
            return .init(
                position: size, kind: .checkpointMismatch,
                detail: "position \(size) no longer has the checkpoint's hash: history was rewritten")
        }
        return nil
    }
}

/// Ed25519 key files: one line `stableid-ed25519-v1 <base64 32-byte private key>`.
public enum SigningKeyFile {
    public static func write(privateKey: [UInt8], to path: String) throws {
        let text = "stableid-ed25519-v1 \(Data(privateKey).base64EncodedString())\n"
        // Created 0600 in the same call that creates it (no window in which another user could
        // open it), and never over an existing file. Set again after: the umask may only take
        // bits away, and a key its owner cannot read is no use either.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw Ed25519.Failure(description: "cannot create \(path) (it may exist already)") }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw Ed25519.Failure(description: "cannot make \(path) mode 0600") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw Ed25519.Failure(description: "cannot write \(path)") }
    }

    /// The private key in `path`, refused when group or others may read or write the file.
    public static func read(from path: String) throws -> [UInt8] {
        try requirePrivate(path)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Ed25519.Failure(description: "cannot read \(path)")
        }
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard parts.count == 2, parts[0] == "stableid-ed25519-v1", let data = Data(base64Encoded: String(parts[1])), data.count == 32 else {
            throw Ed25519.Failure(description: "\(path) is not a stableid Ed25519 key file")
        }
        return Array(data)
    }

    /// Refuses a key file whose mode lets group or others at it (`mode & 0o077 != 0`): whoever can
    /// read the key can sign a checkpoint over a rewritten chain. Follows symbolic links, as
    /// reading does (a mounted secret is often a link to a 0400 file).
    static func requirePrivate(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Ed25519.Failure(description: "cannot read \(path)") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Ed25519.Failure(
                description: "\(path) may be read or written by group or others (mode \(String(mode, radix: 8))): "
                    + "a signing key must be private to its owner; run chmod 600 \(path)")
        }
    }
}

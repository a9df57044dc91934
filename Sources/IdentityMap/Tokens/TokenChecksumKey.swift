import Postgres

/// The installation's key for the checksum inside new tokens (``TokenSecret/checksum(of:key:)``),
/// made once by `sql/0012` and read by every server and CLI that makes or checks tokens. It keeps
/// made-up tokens away from the database; it protects nothing else, and is no more secret than
/// the token hashes stored beside it.
public struct TokenChecksumKey: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func load(on connection: PostgresConnection) throws -> TokenChecksumKey {
        guard let row = try connection.query("SELECT key FROM token_checksum_key").first else {
            throw PostgresError(kind: .decoding, message: "token_checksum_key is empty: run stableid db migrate")
        }
        return TokenChecksumKey(bytes: try row.decode("key", as: PostgresBytes.self).bytes)
    }
}

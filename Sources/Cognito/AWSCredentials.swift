public import Foundation

/// AWS credentials. `description` never shows the secret or the session token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?
    /// Where they came from (`environment`, `profile:<name>`, `container`, `instance-metadata`).
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String {
        "AWSCredentials(\(accessKeyID), source: \(source)\(expiration.map { ", expires \($0)" } ?? ""))"
    }
}

public enum CredentialsError: Error, Sendable, CustomStringConvertible {
    case notFound(tried: [String])
    case invalid(source: String, reason: String)
    /// `AWS_PROFILE` names a profile neither shared file defines. Not `notFound`: the chain must
    /// stop here rather than fall through to other sources the operator did not ask for.
    case unknownProfile(String)

    public var description: String {
        switch self {
        case .notFound(let tried): return "no AWS credentials found (tried \(tried.joined(separator: ", ")))"
        case .invalid(let source, let reason): return "AWS credentials from \(source) are unusable: \(reason)"
        case .unknownProfile(let name): return "AWS_PROFILE is '\(name)', but no such profile is in the shared credentials or config file"
        }
    }
}

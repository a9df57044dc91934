// swift-format-ignore-file: AlwaysUseLowerCamelCase

// The Codable models here spell AWS's PascalCase wire names, so they decode without key maps.
public import Curl
public import Foundation
import Support
import Synchronization

/// Something that can produce AWS credentials (and is asked again when they near expiry).
public protocol CredentialsProvider: Sendable {
    func credentials() async throws -> AWSCredentials
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentials: CredentialsProvider {
    let environment: [String: String]
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }

    public func credentials() async throws -> AWSCredentials {
        guard let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { throw CredentialsError.notFound(tried: ["environment"]) }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, source: "environment")
    }
}

/// The shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`), profile from
/// `AWS_PROFILE` (default `default`), paths from `AWS_SHARED_CREDENTIALS_FILE`/`AWS_CONFIG_FILE`.
public struct ProfileCredentials: CredentialsProvider {
    let environment: [String: String]
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }

    var profile: String { environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default" }

    var isNamedExplicitly: Bool { profile != "default" }

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    public func credentials() async throws -> AWSCredentials {
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        let credentialsSections = Self.ini(at: credentialsPath)
        let fromCredentials = credentialsSections[profile] ?? [:]
        let configSection = profile == "default" ? "default" : "profile \(profile)"
        let configSections = Self.ini(at: configPath)
        let fromConfig = configSections[configSection] ?? [:]
        // A profile the operator named but no file defines is a typo to report, not a reason to
        // go on to container or instance credentials (the SDKs stop here too).
        if isNamedExplicitly, credentialsSections[profile] == nil, configSections[configSection] == nil {
            throw CredentialsError.unknownProfile(profile)
        }
        let merged = fromConfig.merging(fromCredentials) { _, credentialsFile in credentialsFile }
        if (merged["aws_access_key_id"] == nil) != (merged["aws_secret_access_key"] == nil) {
            throw CredentialsError.invalid(
                source: "profile:\(profile)", reason: "it sets only one of aws_access_key_id and aws_secret_access_key"
            )
        }
        guard let key = merged["aws_access_key_id"], let secret = merged["aws_secret_access_key"] else {
            throw CredentialsError.notFound(tried: ["profile \(profile)"])
        }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: merged["aws_session_token"], source: "profile:\(profile)"
        )
    }

    /// The region of the profile, from the config file.
    public func region() -> String? {
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        let section = profile == "default" ? "default" : "profile \(profile)"
        return Self.ini(at: configPath)[section]?["region"]
    }

    /// `[section]` → `key = value`; `#` and `;` start comments.
    static func ini(at path: String) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}

/// The JSON document that container and instance credential endpoints answer.
struct TemporaryCredentialsDocument: Decodable {
    var AccessKeyId: String
    var SecretAccessKey: String
    var Token: String?
    var Expiration: String?

    func credentials(source: String) -> AWSCredentials {
        AWSCredentials(
            accessKeyID: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: Token,
            expiration: Expiration.flatMap { RFC3339.parse($0) }, source: source
        )
    }
}

/// ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on 169.254.170.2) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`.
public struct ContainerCredentials: CredentialsProvider {
    let environment: [String: String]
    let http: CurlClient
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, http: CurlClient) {
        self.environment = environment
        self.http = http
    }

    public func credentials() async throws -> AWSCredentials {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = "http://169.254.170.2" + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            url = full
        } else {
            throw CredentialsError.notFound(tried: ["container"])
        }
        var headers: [(String, String)] = []
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            let token = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let token { headers.append(("Authorization", token)) }
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            headers.append(("Authorization", token))
        }
        let response = try await http.send(CurlRequest(method: "GET", url: url, headers: headers, timeout: .seconds(2)))
        guard response.status == 200 else {
            throw CredentialsError.invalid(source: "container", reason: "endpoint answered HTTP \(response.status)")
        }
        do {
            return try JSONDecoder().decode(TemporaryCredentialsDocument.self, from: Data(response.body)).credentials(source: "container")
        } catch {
            throw CredentialsError.invalid(source: "container", reason: "the answer is not a credentials document")
        }
    }
}

/// EC2 instance role credentials over IMDSv2 (session token first). Off with
/// `AWS_EC2_METADATA_DISABLED=true`; endpoint from `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
public struct InstanceMetadataCredentials: CredentialsProvider {
    let environment: [String: String]
    let http: CurlClient
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, http: CurlClient) {
        self.environment = environment
        self.http = http
    }

    public func credentials() async throws -> AWSCredentials {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            throw CredentialsError.notFound(tried: ["instance metadata (disabled)"])
        }
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        let tokenResponse: CurlResponse
        do {
            tokenResponse = try await http.send(
                CurlRequest(
                    method: "PUT", url: "\(endpoint)/latest/api/token",
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], timeout: .seconds(1)
                ))
        } catch {
            throw CredentialsError.notFound(tried: ["instance metadata (unreachable)"])
        }
        guard tokenResponse.status == 200 else {
            throw CredentialsError.notFound(tried: ["instance metadata (HTTP \(tokenResponse.status))"])
        }
        let session = [("X-aws-ec2-metadata-token", String(decoding: tokenResponse.body, as: UTF8.self))]
        let base = "\(endpoint)/latest/meta-data/iam/security-credentials/"
        let roles = try await http.send(CurlRequest(method: "GET", url: base, headers: session, timeout: .seconds(1)))
        guard roles.status == 200, let role = String(decoding: roles.body, as: UTF8.self).split(whereSeparator: \.isNewline).first else {
            throw CredentialsError.notFound(tried: ["instance metadata (no role)"])
        }
        let document = try await http.send(CurlRequest(method: "GET", url: base + role, headers: session, timeout: .seconds(1)))
        guard document.status == 200,
            let parsed = try? JSONDecoder().decode(TemporaryCredentialsDocument.self, from: Data(document.body))
        else { throw CredentialsError.invalid(source: "instance metadata", reason: "no credentials document") }
        return parsed.credentials(source: "instance-metadata")
    }
}

/// The SDKs' order: environment, shared files, container, instance metadata. The first source that
/// has credentials wins; temporary ones are fetched again five minutes before they expire.
public final class DefaultCredentialsChain: CredentialsProvider {
    private let providers: [any CredentialsProvider]
    private let cached = Mutex<AWSCredentials?>(nil)
    static let refreshMargin: TimeInterval = 300

    public init(providers: [any CredentialsProvider]) {
        self.providers = providers
    }

    public convenience init(environment: [String: String] = ProcessInfo.processInfo.environment, http: CurlClient) {
        self.init(providers: [
            EnvironmentCredentials(environment: environment),
            ProfileCredentials(environment: environment),
            ContainerCredentials(environment: environment, http: http),
            InstanceMetadataCredentials(environment: environment, http: http),
        ])
    }

    public func credentials() async throws -> AWSCredentials {
        if let current = cached.withLock({ $0 }), !Self.needsRefresh(current) { return current }
        var tried: [String] = []
        for provider in providers {
            do {
                let fresh = try await provider.credentials()
                cached.withLock { $0 = fresh }
                return fresh
            } catch CredentialsError.notFound(let names) {
                tried += names
            }
        }
        throw CredentialsError.notFound(tried: tried)
    }

    static func needsRefresh(_ credentials: AWSCredentials, now: Date = Date()) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return expiration.timeIntervalSince(now) < refreshMargin
    }
}

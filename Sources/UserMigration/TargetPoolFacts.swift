public import Cognito
public import Foundation
public import IdentityMap

/// What the target pool lets anyone do, which decides how much a trigger's claims are worth
/// (docs/SECURITY.md): whether anyone can sign up, and which app clients can write the stable-ID
/// attribute. Read from Cognito when a campaign is made and at every reconciliation run.
///
/// A fact that could not be read is nil and counts as the unsafe case: a pool read without
/// `cognito-idp:DescribeUserPool` must not be trusted as admin-only.
public struct TargetPoolFacts: Sendable, Equatable {
    /// Whether the pool admits self sign-up (`AllowAdminCreateUserOnly` false). Nil: unknown.
    public var selfSignUp: Bool?
    /// The app clients that can write the stable-ID attribute, sorted. Nil: unknown; empty: none
    /// (or the campaign has no stable-ID attribute).
    public var attributeWriters: [String]?
    /// Whether users sign in by email (`UsernameAttributes`), so that an email names one user of
    /// the pool. Nil: unknown.
    public var signInByEmail: Bool?
    public var readAt: Date?
    /// Why a fact is unknown, for the operator (an AWS error type, never a secret).
    public var problem: String?

    public init(
        selfSignUp: Bool? = nil, attributeWriters: [String]? = nil, signInByEmail: Bool? = nil, readAt: Date? = nil, problem: String? = nil
    ) {
        self.selfSignUp = selfSignUp
        self.attributeWriters = attributeWriters
        self.signInByEmail = signInByEmail
        self.readAt = readAt
        self.problem = problem
    }

    public static let unknown = TargetPoolFacts()

    /// Whoever signs up may choose their username, email and writable attributes.
    public var admitsSelfSignUp: Bool { selfSignUp ?? true }
    /// Whether a user could have written the stable-ID attribute themselves.
    public var attributeIsClientWritable: Bool { attributeWriters.map { !$0.isEmpty } ?? true }

    /// Whether the same facts were read (the time of reading aside).
    public func sameFacts(as other: TargetPoolFacts) -> Bool {
        selfSignUp == other.selfSignUp && attributeWriters == other.attributeWriters && signInByEmail == other.signInByEmail
            && problem == other.problem
    }

    /// Reads the facts from Cognito. Never throws: what cannot be read stays unknown, with the
    /// reason in ``problem``.
    public static func read(
        pool: PoolID, stableIDAttribute: String?, client: CognitoClient, deadline: ContinuousClock.Instant? = nil
    ) async -> TargetPoolFacts {
        var facts = TargetPoolFacts(readAt: Date())
        var problems: [String] = []
        do {
            let description = try await client.describeUserPool(poolID: pool.rawValue, deadline: deadline)
            facts.selfSignUp = !(description.AdminCreateUserConfig?.AllowAdminCreateUserOnly ?? false)
            facts.signInByEmail = description.UsernameAttributes?.contains("email") ?? false
        } catch {
            problems.append("DescribeUserPool: \(reason(error))")
        }
        if let attribute = stableIDAttribute {
            do {
                // Unset WriteAttributes: the client writes every attribute, custom ones included.
                let apps = try await client.describeUserPoolClients(poolID: pool.rawValue, deadline: deadline)
                facts.attributeWriters = apps.filter { $0.canWrite(attribute) }.map(\.ClientId).sorted()
            } catch {
                problems.append("ListUserPoolClients/DescribeUserPoolClient: \(reason(error))")
            }
        } else {
            facts.attributeWriters = []
        }
        facts.problem = problems.isEmpty ? nil : String(problems.joined(separator: "; ").prefix(200))
        return facts
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as CognitoError:
            switch error {
            case .service(let type, _, let status): return "\(type.rawValue) (HTTP \(status))"
            case .transport, .deadlineExceeded: return "Cognito did not answer"
            case .configuration: return "no AWS access configured for the pool"
            case .malformedResponse: return "malformed answer"
            }
        default: return "failed"
        }
    }

    /// What the facts mean for each way a campaign links, one line each, for `campaign create`
    /// and `campaign show`: nothing is refused, but nobody should be surprised.
    public func explanation(linkBy: [Campaign.LinkRule], stableIDAttribute: String?) -> [String] {
        var lines: [String] = []
        if let problem {
            lines.append(
                "warning: the target pool could not be fully read (\(problem)); assuming self sign-up on and the attribute writable")
        }
        let signUp = admitsSelfSignUp
        lines.append(
            signUp
                ? "target pool admits self sign-up\(selfSignUp == nil ? " (assumed)" : ""): usernames and unverified emails are claims anyone can make"
                : "target pool admits no self sign-up: usernames and attributes come from administrators and import jobs")
        for rule in linkBy {
            switch rule {
            case .username:
                lines.append(
                    signUp
                        ? "--link-by username: links only when the same email is verified on both sides, or a pending migration or federated account names the same person"
                        : "--link-by username: links on the username alone")
            case .email:
                lines.append("--link-by email: links when the target's verified email is a source username")
            case .verifiedEmail:
                lines.append("--link-by verified-email: links when the same email is verified on both sides")
            }
        }
        if let attribute = stableIDAttribute {
            if attributeIsClientWritable {
                let who = attributeWriters.map { "app clients \($0.joined(separator: ", "))" } ?? "app clients (assumed)"
                lines.append(
                    "\(attribute) is writable by \(who): it links only with proof of control naming the same person"
                        + (signUp ? "" : " or in this admin-only pool"))
            } else {
                lines.append("\(attribute) is writable by no app client: it links on its own")
            }
        }
        return lines
    }

    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "self_sign_up": selfSignUp.map(JSONValue.bool) ?? .null,
            "attribute_writers": attributeWriters.map { .array($0.map(JSONValue.string)) } ?? .null,
            "sign_in_by_email": signInByEmail.map(JSONValue.bool) ?? .null,
        ]
        if let problem { json["problem"] = .string(problem) }
        return json
    }
}

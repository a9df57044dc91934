import Cognito
import Foundation
import IdentityMap
import Logging

// One person of the unmigrated set, invited or created without a password: read the source user,
// claim the row, AdminCreateUser, link. And the settling of a row whose outcome is unknown.
extension CampaignFinalizer {
    func finalize(_ candidate: FinalizeCandidate, plan: Plan, options: Options, budget: FinalizeBudget) async throws -> FinalizeOutcome {
        if candidate.inTarget { return .skipped(.alreadyInTarget) }
        if let hold = plan.holds[candidate.person] { return .held(hold) }
        if let record = candidate.record {
            switch record.state {
            case .created: return .skipped(.alreadyCreated)
            case .held: return .held(FinalizeHold(person: candidate.person, reasons: [record.lastError ?? "held"]))
            case .creating: return .skipped(.inProgress)
            case .failed: break
            }
        }
        guard let username = candidate.sourceUsername, let source = plan.sources[candidate.sourcePool] else {
            return .skipped(.sourceChanged)
        }
        let user: AdminGetUserResponse
        do {
            user = try await client(for: source).adminGetUser(poolID: source.id.rawValue, username: username)
        } catch let error as CognitoError where error.type == .userNotFound {
            return .skipped(.sourceGone)
        }
        guard user.Enabled != false else { return .skipped(.sourceDisabled) }
        // The username may have passed to a new user of the source pool (a new sub) since.
        guard let sub = user.attribute("sub").flatMap(CognitoSub.canonical), sub == CognitoSub.canonical(candidate.sourceSub) else {
            return .skipped(.sourceChanged)
        }
        // Membership is judged now, from the attributes just read (the member file was judged by
        // the reconciliation and does not change).
        if let subset = plan.campaign.subset, !subset.matches({ user.attribute($0) }) { return .skipped(.outsideSubset) }
        var attributes: [String: String] = [:]
        for attribute in user.UserAttributes ?? [] { attributes[attribute.Name] = attribute.Value }
        let account: FinalizeAccount
        switch FinalizeAccount.plan(
            mode: options.mode, person: candidate.person, sourceUsername: user.Username, sourceAttributes: attributes,
            stableIDAttribute: plan.stableIDAttribute, targetUsernameAttributes: plan.usernameAttributes,
            allowedFirstFactors: plan.allowedFirstFactors
        ) {
        case .success(let planned): account = planned
        case .failure(let reason): return .skipped(reason)
        }
        guard budget.take() else { return .limitReached }
        if options.dryRun { return .wouldCreate(candidate.person) }
        let record = FinalizeRecord(
            person: candidate.person, sourcePool: candidate.sourcePool, sourceSub: candidate.sourceSub, mode: options.mode,
            state: .creating, targetUsername: account.username
        )
        // `--limit` counts the users this run claimed: a claim that fails gives its unit back.
        guard try await store.claim(record, campaign: plan.campaign.id) else {
            budget.giveBack()
            return .skipped(.inProgress)
        }
        return try await create(record, account: account, plan: plan)
    }

    /// AdminCreateUser for a claimed row. Failures Cognito may have acted on (a timeout, a 5xx
    /// after every retry) stop the run and leave the row `creating` for `--resume`; a refusal of
    /// this user is recorded and the run goes on.
    func create(_ record: FinalizeRecord, account: FinalizeAccount, plan: Plan) async throws -> FinalizeOutcome {
        let created: UserType
        do {
            created = try await client(for: plan.target).adminCreateUser(
                poolID: plan.target.id.rawValue, username: account.username,
                attributes: account.attributes.sorted { $0.key < $1.key }.map { AttributeType($0.key, $0.value) },
                messageAction: account.messageAction, desiredDeliveryMediums: account.deliveryMediums
            )
        } catch let error as CognitoError where error.type == .usernameExists {
            // Made by an earlier attempt of this very call (retried after a timeout), or someone else's.
            return try await settle(record, plan: plan, interrupted: false)
        } catch let error as CognitoError where Self.refusesUser(error) {
            let code = error.type?.rawValue ?? "refused"
            // An alias (email or phone) another target user holds: a case for a person.
            let held = error.type == .aliasExists
            try await store.mark(record.person, campaign: plan.campaign.id, held ? .held : .failed, code: code)
            return held ? .held(FinalizeHold(person: record.person, reasons: ["alias_exists"])) : .failed(record.person, code: code)
        }
        let outcome = try await link(record, username: created.Username, attributes: created.Attributes ?? [], adopted: false, plan: plan)
        if case .created = outcome { return .created(delivery: account.deliveryMediums?.first) }
        return outcome
    }

    /// Cognito's refusals of one user (its attributes, its alias), after which nothing was created
    /// and the next user may well succeed. Anything else (access, quota, the pool) stops the run.
    static func refusesUser(_ error: CognitoError) -> Bool {
        switch error.type {
        case .invalidParameter?, .invalidPassword?, .aliasExists?: return true
        // A pre sign-up (or custom message) Lambda of the target refused this user.
        case .other(let name)?: return name == "UnsupportedUserStateException" || name == "UserLambdaValidationException"
        default: return false
        }
    }

    /// A row whose AdminCreateUser may or may not have happened. The target user under its
    /// username is adopted (linked) when it is finalize's own (``adopts(named:person:status:selfSignUp:attributeClientWritable:)``);
    /// anyone else's is held for a person. Absent: never created, so the row becomes `failed`
    /// (`interrupted`), which this run's pass over the unmigrated set takes up again.
    func settle(_ record: FinalizeRecord, plan: Plan, interrupted: Bool = true) async throws -> FinalizeOutcome {
        guard let username = record.targetUsername else {
            // Erased while it was being created: never looked up again.
            try await store.mark(record.person, campaign: plan.campaign.id, .held, code: "erased")
            return .held(FinalizeHold(person: record.person, reasons: ["erased"]))
        }
        let found: AdminGetUserResponse?
        do {
            found = try await client(for: plan.target).adminGetUser(poolID: plan.target.id.rawValue, username: username)
        } catch let error as CognitoError where error.type == .userNotFound {
            found = nil
        }
        guard let found else {
            let code = interrupted ? "interrupted" : "username_exists"
            try await store.mark(record.person, campaign: plan.campaign.id, .failed, code: code)
            return interrupted ? .ignored : .failed(record.person, code: code)
        }
        let named = found.attribute(plan.stableIDAttribute).flatMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) }
        guard
            Self.adopts(
                named: named, person: record.person, status: CognitoUserStatus(cognito: found.UserStatus), selfSignUp: plan.selfSignUp,
                attributeClientWritable: plan.campaign.targetFacts.attributeIsClientWritable)
        else {
            try await store.mark(record.person, campaign: plan.campaign.id, .held, code: "username_taken")
            return .held(FinalizeHold(person: record.person, reasons: ["username_taken"]))
        }
        return try await link(record, username: found.Username, attributes: found.UserAttributes ?? [], adopted: true, plan: plan)
    }

    /// Whether a target user found under a row's username is the one finalize made: its stable-ID
    /// attribute names the person, and nobody but an administrator could have put it there —
    /// the user was made by an administrator and never signed in (`FORCE_CHANGE_PASSWORD`; a self
    /// sign-up never is), or the pool admits no self sign-up (then every user is an
    /// administrator's, and one who signed in since — a passwordless user by one-time code between
    /// the kill and `--resume` — is still finalize's), or no app client can write the attribute.
    /// A pool that may admit self sign-up (`selfSignUp` nil or true) with a client-writable
    /// attribute is refused: whoever signed up could have named the person.
    static func adopts(
        named: UUID?, person: UUID, status: CognitoUserStatus, selfSignUp: Bool?, attributeClientWritable: Bool
    ) -> Bool {
        guard named == person else { return false }
        return status == .forceChangePassword || selfSignUp == false || !attributeClientWritable
    }

    /// Links the target user to the person and marks the row `created` (one transaction).
    func link(
        _ record: FinalizeRecord, username: String, attributes: [AttributeType], adopted: Bool, plan: Plan
    ) async throws
        -> FinalizeOutcome
    {
        func value(_ name: String) -> String? { attributes.first { $0.Name == name }?.Value }
        let campaign = plan.campaign.id
        guard let sub = value("sub").flatMap(CognitoSub.canonical) else {
            try await store.mark(record.person, campaign: campaign, .failed, code: "no_target_sub")
            return .failed(record.person, code: "no_target_sub")
        }
        do {
            let identity = try NewIdentity(
                pool: plan.target.id, sub: sub, username: username, email: value("email").flatMap(EmailAddress.valid),
                emailVerified: value("email_verified") == "true", via: record.mode.linkPath ?? .invite, campaignID: campaign
            )
            let done = try await store.complete(
                record, campaign: campaign, identity: identity, invited: record.mode == .invite, attribution: attribution)
            return done ? (adopted ? .adopted : .created(delivery: nil)) : .skipped(.inProgress)
        } catch let error as IdentityMapError {
            let code: String
            switch error {
            case .identityAlreadyLinked: code = "sub_linked_elsewhere"
            case .usernameTaken: code = "username_taken_in_map"
            case .userNotActive, .userNotFound: code = "person_not_active"
            default: code = "invalid_identity"
            }
            let held = code == "sub_linked_elsewhere" || code == "username_taken_in_map"
            try await store.mark(record.person, campaign: campaign, held ? .held : .failed, code: code)
            logger.warning("finalize could not link a created user", metadata: ["campaign": "\(campaign)", "code": "\(code)"])
            return held ? .held(FinalizeHold(person: record.person, reasons: [code])) : .failed(record.person, code: code)
        }
    }
}

import Cognito
import Foundation
import Testing

@testable import UserMigration

/// The rules that keep `campaign finalize` from handing an account to the wrong person: who an
/// invitation may reach, which targets a passwordless run may fill, which found user an interrupted
/// run may adopt, which refusals stop only one user; and the durations `--older-than` takes.
@Suite("Finalize: who is reached, adopted, refused", .timeLimit(.minutes(2)))
struct FinalizeRulesTests {
    let person = UUID(uuidString: "0193f2c4-5b1e-7c3a-9d2e-4f6a8b0c1d2e")!

    func plan(
        _ mode: FinalizeMode, _ attributes: [String: String], signInBy: [String] = [], factors: Set<String>? = nil
    ) -> Result<FinalizeAccount, FinalizeSkip> {
        FinalizeAccount.plan(
            mode: mode, person: person, sourceUsername: "olduser", sourceAttributes: attributes, stableIDAttribute: "custom:stable_id",
            targetUsernameAttributes: signInBy, allowedFirstFactors: factors)
    }

    @Test("an invitation goes only to a verified email or phone: unverified email and verified phone → SMS; nothing verified → skipped")
    func invitationsOnlyToVerifiedContacts() throws {
        let typo = [
            "email": "typo@example.con", "email_verified": "false", "phone_number": "+15555550100", "phone_number_verified": "true",
        ]
        let smsOnly = try plan(.invite, typo).get()
        #expect(smsOnly.deliveryMediums == ["SMS"], "the temporary password must not go to an address nobody verified")
        #expect(smsOnly.attributes["email_verified"] == "false")
        #expect(plan(.invite, ["email": "a@example.com", "phone_number": "+15555550100"]) == .failure(.noVerifiedContact))
        #expect(plan(.invite, ["email": "a@example.com", "email_verified": "false"]) == .failure(.noVerifiedContact))
        #expect(plan(.invite, ["email": "a@example.com", "email_verified": "TRUE"]).map(\.deliveryMediums) == .success(["EMAIL"]))
        // A target that signs in by email takes only a verified one as username.
        let unverified = ["email": "a@example.com", "phone_number": "+15555550100"]
        #expect(plan(.invite, unverified, signInBy: ["email"]) == .failure(.noSignInAttribute))
        let byPhone = try plan(
            .invite, ["email": "a@example.com", "phone_number": "+15555550100", "phone_number_verified": "true"],
            signInBy: ["email", "phone_number"]
        ).get()
        #expect(byPhone.username == "+15555550100" && byPhone.deliveryMediums == ["SMS"])
    }

    @Test("resend picks the medium by the target user's verified flags the same way")
    func resendMedium() {
        #expect(FinalizeAccount.deliveryMedium(["email": "a@example.com", "email_verified": "true"]) == "EMAIL")
        #expect(
            FinalizeAccount.deliveryMedium(
                ["email": "a@example.com", "email_verified": "false", "phone_number": "+15555550100", "phone_number_verified": "true"])
                == "SMS")
        #expect(FinalizeAccount.deliveryMedium(["email": "a@example.com", "phone_number": "+15555550100"]) == nil)
        #expect(FinalizeAccount.deliveryMedium(["email_verified": "true"]) == nil, "a flag without its address")
    }

    @Test("passwordless runs only against a pool that lets users in without a password, or on the operator's word when it does not say")
    func passwordlessPool() throws {
        #expect(throws: MigrationError.self) { _ = try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: nil, assumed: false) }
        #expect(try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: nil, assumed: true) == nil)
        #expect(throws: MigrationError.self, "PASSWORD only, whatever the operator says") {
            _ = try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: ["PASSWORD"], assumed: true)
        }
        #expect(throws: MigrationError.self) { _ = try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: [], assumed: true) }
        let codes = try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: ["PASSWORD", "EMAIL_OTP"], assumed: false)
        #expect(codes == ["PASSWORD", "EMAIL_OTP"])
        #expect(try FinalizeAccount.passwordlessSignIn(allowedFirstFactors: ["WEB_AUTHN"], assumed: false) == ["WEB_AUTHN"])
        #expect(CampaignFinalizer.passwordlessWarnings(["PASSWORD", "WEB_AUTHN"]).count == 1, "passkeys need a first sign-in")
        #expect(CampaignFinalizer.passwordlessWarnings(["PASSWORD", "SMS_OTP"]).isEmpty)
        #expect(CampaignFinalizer.passwordlessWarnings(nil).count == 1)
    }

    @Test("each passwordless user needs a verified contact that fits one of the pool's factors")
    func passwordlessUsers() {
        let phoneOnly = ["phone_number": "+15555550100", "phone_number_verified": "true", "email": "a@example.com"]
        #expect(plan(.passwordless, phoneOnly, factors: ["PASSWORD", "EMAIL_OTP"]) == .failure(.noPasswordlessFactor))
        #expect((try? plan(.passwordless, phoneOnly, factors: ["PASSWORD", "SMS_OTP"]).get())?.messageAction == "SUPPRESS")
        #expect((try? plan(.passwordless, phoneOnly, factors: ["PASSWORD", "WEB_AUTHN"]).get()) != nil)
        #expect((try? plan(.passwordless, phoneOnly, factors: nil).get()) != nil, "the operator vouched for the pool")
        #expect(plan(.passwordless, ["email": "a@example.com"], factors: ["WEB_AUTHN"]) == .failure(.noVerifiedContact))
        #expect(
            plan(.passwordless, ["email": "a@example.com", "email_verified": "true"], factors: ["PASSWORD", "SMS_OTP"])
                == .failure(.noPasswordlessFactor))
    }

    @Test("a user found under an interrupted row's username is adopted only when nobody but an administrator could have named the person")
    func adoption() {
        let other = UUID()
        func adopts(_ named: UUID?, _ status: CognitoUserStatus, selfSignUp: Bool?, writable: Bool) -> Bool {
            CampaignFinalizer.adopts(
                named: named, person: person, status: status, selfSignUp: selfSignUp, attributeClientWritable: writable)
        }
        #expect(adopts(person, .forceChangePassword, selfSignUp: true, writable: true), "made by an administrator, never signed in")
        // Signed in between the kill and --resume (a one-time code): still finalize's when nobody can sign up.
        #expect(adopts(person, .confirmed, selfSignUp: false, writable: true))
        #expect(!adopts(person, .confirmed, selfSignUp: true, writable: true), "a self sign-up could have named the person")
        #expect(!adopts(person, .confirmed, selfSignUp: nil, writable: true), "unknown counts as self sign-up on")
        #expect(adopts(person, .confirmed, selfSignUp: nil, writable: false), "no client can write the attribute")
        #expect(!adopts(other, .forceChangePassword, selfSignUp: false, writable: false), "someone else's")
        #expect(!adopts(nil, .forceChangePassword, selfSignUp: false, writable: false))
    }

    @Test("Cognito's refusals of one user, a Lambda's included, do not stop the run; anything else does")
    func refusals() {
        func refuses(_ type: CognitoErrorType) -> Bool {
            CampaignFinalizer.refusesUser(.service(type, message: "refused", status: 400))
        }
        #expect(refuses(.other("UserLambdaValidationException")))
        #expect(refuses(.invalidParameter) && refuses(.aliasExists) && refuses(.other("UnsupportedUserStateException")))
        #expect(!refuses(.limitExceeded) && !refuses(.tooManyRequests) && !refuses(.other("AccessDeniedException")))
    }

    @Test("--older-than takes a whole number and a unit")
    func durations() {
        #expect(DurationText.seconds("7d") == TimeInterval(7 * 86_400))
        #expect(DurationText.seconds("12h") == TimeInterval(12 * 3_600))
        #expect(DurationText.seconds("30m") == 1_800 && DurationText.seconds("90s") == 90 && DurationText.seconds("0s") == 0)
        for bad in ["", "d", "7", "7w", "-1d", "1.5h", " 7d", "7 d", "9999999999d"] {
            #expect(DurationText.seconds(bad) == nil, "\(bad)")
        }
    }
}

import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import TestSupport
import Testing

@Suite("Cognito users as records", .timeLimit(.minutes(2)))
struct CognitoUserRecordTests {
    static let google =
        #"[{"userId":"1234","providerName":"Google","providerType":"Google","issuer":null,"primary":true,"dateCreated":1700000000000}]"#

    @Test("the identities attribute: provider, user ID, primary flag and creation time")
    func identities() throws {
        let parsed = try #require(FederatedIdentity.parse(attribute: Self.google))
        #expect(
            parsed == [
                FederatedIdentity(
                    providerName: "Google", providerType: "Google", userID: "1234", issuer: nil, primary: true,
                    dateCreated: Date(timeIntervalSince1970: 1_700_000_000)
                )
            ])
        let two = #"[{"userId":"a","providerName":"Facebook"},{"userId":9,"providerName":"SignInWithApple","primary":"true"}]"#
        let both = try #require(FederatedIdentity.parse(attribute: two))
        #expect(both.map(\.userID) == ["a", "9"])
        #expect(FederatedIdentity.preferred(in: both)?.providerName == "SignInWithApple")
        #expect(FederatedIdentity.preferred(in: [both[0]])?.providerName == "Facebook")
        #expect(FederatedIdentity.parse(attribute: #"[{"providerName":"NoUser"}]"#) == [])
        #expect(FederatedIdentity.parse(attribute: "not json") == nil)
        #expect(FederatedIdentity.parse(attribute: #"{"providerName":"Google"}"#) == nil)
    }

    @Test("a federated ListUsers user keeps its provider, user ID, status, custom attributes and dates")
    func federatedUser() {
        let created = Date(timeIntervalSince1970: 1_795_169_472)
        let user = UserType(
            Username: "Google_1234",
            Attributes: [
                AttributeType("sub", "aaaaaaaa-0000-4000-8000-000000000001"),
                AttributeType("identities", Self.google),
                AttributeType("email", "Fed@Example.com"),
                AttributeType("email_verified", "True"),
                AttributeType("custom:stable_id", "0191b3c4-0000-7000-8000-000000000001"),
                AttributeType("custom:tier", nil),
            ],
            Enabled: false,
            UserStatus: "EXTERNAL_PROVIDER",
            UserCreateDate: created,
            UserLastModifiedDate: created.addingTimeInterval(60)
        )
        let record = CognitoUserRecord(user)
        #expect(
            record
                == CognitoUserRecord(
                    sub: "aaaaaaaa-0000-4000-8000-000000000001", username: "Google_1234", email: "Fed@Example.com", emailVerified: true,
                    enabled: false, userStatus: .externalProvider, provider: "Google", federatedUserID: "1234",
                    customAttributes: ["custom:stable_id": "0191b3c4-0000-7000-8000-000000000001"],
                    created: created, lastModified: created.addingTimeInterval(60)
                ))
        #expect(
            record.backfillRecord
                == BackfillRecord(
                    sub: "aaaaaaaa-0000-4000-8000-000000000001", username: "Google_1234", email: "Fed@Example.com", emailVerified: true,
                    provider: "Google", enabled: false
                ))
    }

    @Test("a plain user: provider Cognito, enabled unless said otherwise, unknown status when absent")
    func plainUser() {
        let record = CognitoUserRecord(UserType(Username: "alice", Attributes: [AttributeType("sub", "s-1"), AttributeType("email", "")]))
        #expect(record.provider == "Cognito" && record.federatedUserID == nil)
        #expect(record.enabled && !record.emailVerified && record.email == nil)
        #expect(record.userStatus == .unknown && record.customAttributes.isEmpty)
        #expect(CognitoUserRecord(UserType(Username: "no-sub")).sub == "")
        let broken = CognitoUserRecord(UserType(Username: "x", Attributes: [AttributeType("identities", "[oops")]))
        #expect(broken.provider == "Cognito")
    }

    @Test("the attributes a campaign's subset may name: custom ones, email and the other standard ones, as Cognito spells them")
    func subsetAttributes() {
        let record = CognitoUserRecord(
            UserType(
                Username: "anna",
                Attributes: [
                    AttributeType("sub", "aaaaaaaa-0000-4000-8000-000000000002"), AttributeType("email", "Anna@Example.com"),
                    AttributeType("email_verified", "true"), AttributeType("locale", "de-DE"), AttributeType("custom:country", "DE"),
                    AttributeType("zoneinfo", nil),
                ]))
        #expect(record.attribute("custom:country") == "DE" && record.attribute("locale") == "de-DE")
        #expect(record.attribute("email") == "Anna@Example.com")
        #expect(record.attribute("zoneinfo") == nil && record.attribute("custom:tier") == nil)
        #expect(record.otherAttributes == ["locale": "de-DE"], "sub, email and email_verified have fields of their own")
        #expect(record.attribute("sub") == nil && record.attribute("email_verified") == nil)
    }

    @Test("every Cognito user status, case-insensitively; new ones become unknown")
    func statuses() {
        for status in CognitoUserStatus.allCases {
            #expect(CognitoUserStatus(cognito: status.rawValue) == status)
            #expect(CognitoUserStatus(cognito: status.rawValue.lowercased()) == status)
        }
        #expect(CognitoUserStatus(cognito: "SOMETHING_NEW") == .unknown)
        #expect(CognitoUserStatus(cognito: nil) == .unknown)
    }

    @Test("provider names are cut down to what the map accepts")
    func providerNames() {
        #expect(CognitoUserRecord.mapProviderName("Google") == "Google")
        #expect(CognitoUserRecord.mapProviderName("Okta SAML (prod)") == "OktaSAMLprod")
        #expect(CognitoUserRecord.mapProviderName("Société-Générale.IdP") == "Socit-Gnrale.IdP")
        #expect(CognitoUserRecord.mapProviderName("日本") == "Cognito")
        #expect(CognitoUserRecord.mapProviderName(String(repeating: "a", count: 100)).count == 64)
    }

    @Test("a file source yields records in chunks and reports bytes read; a missing file fails on the first batch")
    func fileSource() async throws {
        try await withTemporaryDirectory("source") { directory in
            let path = directory.appendingPathComponent("source.json").path
            let users = (0..<5).map {
                #"{"Username":"u\#($0)","Attributes":[{"Name":"sub","Value":"s\#($0)"}],"UserCreateDate":"2026-11-20T10:11:12.345000+00:00"}"#
            }
            let text = #"{"Users":["# + users.joined(separator: ",") + "]}"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let source = UserSource.file(path: path, format: nil)
            #expect(source.label == "file:" + URL(fileURLWithPath: path).lastPathComponent)
            var sizes: [Int] = []
            var subs: [String] = []
            var last: SourceProgress?
            for try await batch in source.batches(fileChunk: 2) {
                sizes.append(batch.records.count)
                subs += batch.records.map(\.sub)
                last = batch.progress
                #expect(batch.records.allSatisfy { $0.created != nil })
            }
            #expect(sizes == [2, 2, 1])
            #expect(subs == ["s0", "s1", "s2", "s3", "s4"])
            #expect(last == .bytesRead(text.utf8.count))
        }

        await #expect(throws: UserFileReader.Failure.unreadable("/nonexistent/users.json")) {
            var iterator = UserSource.file(path: "/nonexistent/users.json", format: nil).batches().makeAsyncIterator()
            _ = try await iterator.next()
        }
    }
}

import Foundation
import Testing

@testable import UserMigration

/// The pure parts of `campaign finalize`: the user-import CSV header derived from a pool's schema
/// (checked against the header AWS documents), the account made from a source user in each mode,
/// and the CSV files themselves (quoting, splitting at the import job's limits).
@Suite("Finalize: CSV header, accounts, files", .timeLimit(.minutes(2)))
struct FinalizeAccountTests {
    /// `aws cognito-idp get-csv-header` for a pool without custom attributes, as the Cognito
    /// developer guide prints it ("Creating the user import CSV file").
    static let documentedHeader = [
        "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "email",
        "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
        "cognito:mfa_enabled", "cognito:username",
    ]

    /// DescribeUserPool's `SchemaAttributes` of a default pool, in AWS's order: `sub` first, then
    /// the standard attributes, `identities` among them.
    static let defaultSchema = [
        "sub", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website",
        "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address",
        "updated_at", "identities",
    ]

    let person = UUID(uuidString: "0193f2c4-5b1e-7c3a-9d2e-4f6a8b0c1d2e")!

    @Test("the header derived from a default pool's schema is the one AWS documents for GetCSVHeader")
    func documentedHeader() {
        #expect(CSVHeader.derive(schemaAttributeNames: Self.defaultSchema) == Self.documentedHeader)
    }

    @Test("custom attributes come after the standard ones, before Cognito's columns; a schema naming only them loses no standard column")
    func customAttributes() {
        let expected = Array(Self.documentedHeader.dropLast(2)) + ["custom:stable_id", "custom:tenant"] + CSVHeader.cognitoColumns
        #expect(CSVHeader.derive(schemaAttributeNames: Self.defaultSchema + ["custom:stable_id", "custom:tenant"]) == expected)
        // moto's DescribeUserPool of a pool made with custom attributes lists only those.
        #expect(CSVHeader.derive(schemaAttributeNames: ["custom:stable_id", "dev:custom:tenant"]) == expected)
        #expect(CSVHeader.problem(in: expected, stableIDAttribute: "custom:stable_id") == nil)
        #expect(CSVHeader.problem(in: Self.documentedHeader, stableIDAttribute: "custom:stable_id")?.contains("custom:stable_id") == true)
        #expect(CSVHeader.problem(in: ["email"], stableIDAttribute: nil) != nil, "no cognito:username column")
    }

    func plan(
        _ mode: FinalizeMode, _ attributes: [String: String], username: String = "olduser", signInBy: [String] = []
    ) -> Result<FinalizeAccount, FinalizeSkip> {
        FinalizeAccount.plan(
            mode: mode, person: person, sourceUsername: username, sourceAttributes: attributes, stableIDAttribute: "custom:stable_id",
            targetUsernameAttributes: signInBy)
    }

    @Test("invite: standard attributes and the stable ID, never sub, identities or other custom attributes; verified email, else SMS")
    func invite() throws {
        let source = [
            "sub": "5a1f0c9e-0000-4000-8000-000000000001", "identities": "[]", "custom:tenant": "acme", "email": "a@example.com",
            "email_verified": "True", "given_name": "Ann", "updated_at": "1700000000", "phone_number": "+15555550100",
        ]
        let account = try plan(.invite, source).get()
        #expect(account.username == "olduser")
        #expect(
            account.attributes == [
                "email": "a@example.com", "email_verified": "true", "given_name": "Ann", "phone_number": "+15555550100",
                "custom:stable_id": person.uuidString.lowercased(),
            ])
        #expect(account.deliveryMediums == ["EMAIL"] && account.messageAction == nil, "Cognito sends the invitation: never SUPPRESS")
        let phoneOnly = try plan(.invite, ["phone_number": "+15555550100", "phone_number_verified": "true", "email_verified": "true"]).get()
        #expect(phoneOnly.deliveryMediums == ["SMS"])
        #expect(phoneOnly.attributes["email_verified"] == nil, "a verified flag without its address is dropped")
        #expect(plan(.invite, ["name": "Nobody"]) == .failure(.noContact))
    }

    @Test("passwordless and CSV need a verified email or phone; a target that signs in by email takes the email as username")
    func passwordlessAndSignIn() throws {
        let verified = try plan(.passwordless, ["email": "b@example.com", "email_verified": "true"]).get()
        #expect(verified.messageAction == "SUPPRESS" && verified.deliveryMediums == nil)
        #expect(plan(.passwordless, ["email": "b@example.com", "email_verified": "false"]) == .failure(.noVerifiedContact))
        #expect(plan(.csv, ["email": "b@example.com"]) == .failure(.noVerifiedContact))
        #expect(try plan(.passwordless, ["phone_number": "+15555550101", "phone_number_verified": "true"]).get().username == "olduser")
        let byEmail = try plan(
            .invite, ["email": "c@example.com", "email_verified": "true"], username: "7d1e0c9a-uuid-username", signInBy: ["email"]
        ).get()
        #expect(byEmail.username == "c@example.com")
        let phone = ["phone_number": "+15555550102", "phone_number_verified": "true"]
        #expect(plan(.invite, phone, signInBy: ["email"]) == .failure(.noSignInAttribute))
        #expect(try plan(.invite, phone, signInBy: ["email", "phone_number"]).get().username == "+15555550102")
    }

    @Test("a CSV row follows the header: username, MFA off, verified flags never empty, the stable ID, empty for the rest")
    func csvRow() throws {
        let account = try plan(.csv, ["email": "d@example.com", "email_verified": "true", "family_name": "Doe"]).get()
        let header = [
            "cognito:username", "email", "email_verified", "phone_number_verified", "family_name", "custom:stable_id", "custom:tenant",
            "cognito:mfa_enabled",
        ]
        #expect(
            account.csvRow(header: header) == [
                "olduser", "d@example.com", "true", "false", "Doe", person.uuidString.lowercased(), "", "false",
            ])
    }

    @Test("fields are quoted per RFC 4180 only when they must be")
    func quoting() {
        func text(_ value: String) -> String { String(decoding: UserImportCSVWriter.field(value), as: UTF8.self) }
        #expect(text("plain") == "plain")
        #expect(text("Doe, Jane") == "\"Doe, Jane\"")
        #expect(text("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(text("line\nbreak") == "\"line\nbreak\"")
        #expect(String(decoding: UserImportCSVWriter.line(["a", "b,c", ""]), as: UTF8.self) == "a,\"b,c\",\n")
        #expect(UserImportCSVWriter.fileStem("move eu/2026") == "move_eu_2026")
    }

    @Test("files split before an import job's user or size limit, each with the header, none left .partial, all 0600")
    func splitting() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("finalize-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try UserImportCSVWriter(directory: directory, name: "c", header: ["cognito:username", "email"], maxUsers: 2)
        for index in 0..<5 { try writer.write(["user\(index)", "user\(index)@example.com"]) }
        let files = try writer.finish()
        #expect(files.map { URL(fileURLWithPath: $0).lastPathComponent } == ["c-0001.csv", "c-0002.csv", "c-0003.csv"])
        let contents = try files.map { try String(contentsOfFile: $0, encoding: .utf8) }
        #expect(contents[0] == "cognito:username,email\nuser0,user0@example.com\nuser1,user1@example.com\n")
        #expect(contents[2] == "cognito:username,email\nuser4,user4@example.com\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(left.allSatisfy { !$0.hasSuffix(".partial") }, "\(left)")
        // Emails, phone numbers, names: readable by their owner alone, whatever the umask.
        for file in files {
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode.map { $0 & 0o777 } == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
        }
        // By size: the header (23 bytes) and one 20-byte row fit in 50 bytes, two rows do not.
        let sized = try UserImportCSVWriter(directory: directory, name: "s", header: ["cognito:username", "email"], maxBytes: 50)
        for index in 0..<3 { try sized.write(["u\(index)", "u\(index)@example.com.."]) }
        let bySize = try sized.finish()
        #expect(bySize.count == 3)
        #expect(try bySize.allSatisfy { try Data(contentsOf: URL(fileURLWithPath: $0)).count <= 50 })
        #expect(throws: MigrationError.self) {
            _ = try UserImportCSVWriter(directory: directory, name: "c", header: ["cognito:username"])
        }
    }
}

import Foundation
import IdentityMap
import Testing
import UserMigration

/// The subset rule as the operator types it (`--only`, `--only-file`) and as every part of a
/// campaign applies it: attributes compared exactly, conditions ANDed, the member file's lines.
@Suite("Campaign subsets", .timeLimit(.minutes(2)))
struct CampaignSubsetTests {
    static let source = PoolID("eu-west-1_Source")!
    static let other = PoolID("us-east-1_Other")!

    static func attributes(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test("--only ATTR=V[,V…]: the attribute and its values, in order, each once")
    func parsesConditions() throws {
        let condition = try CampaignSubset.condition(parsing: "custom:country=DE,FR,IT,DE")
        #expect(condition.attribute == "custom:country" && condition.values == ["DE", "FR", "IT"])
        let locale = try CampaignSubset.condition(parsing: "locale=de-DE")
        #expect(locale.attribute == "locale" && locale.values == ["de-DE"])
        // A value may hold `=`; only the first one separates.
        #expect(try CampaignSubset.condition(parsing: "custom:tag=a=b").values == ["a=b"])
        let both = try CampaignSubset.conditions(parsing: ["custom:country=DE", "locale=de-DE,de-AT"])
        #expect(both.map(\.attribute) == ["custom:country", "locale"])
    }

    @Test(
        "--only refuses what cannot be a condition",
        arguments: [
            "custom:country", "=DE", "custom:country=", "custom:country=DE,,FR", "custom:country=DE,",
            "sub=0b1c2d3e-0000-4000-8000-000000000001",
            "identities=x", "email_verified=true", "cognito:user_status=CONFIRMED", "custom country=DE", ":country=DE",
        ])
    func refusesConditions(_ text: String) {
        #expect(throws: MigrationError.self) { try CampaignSubset.condition(parsing: text) }
    }

    @Test("one --only per attribute: its values are the choices, and several --only must all hold")
    func refusesRepeatedAttribute() {
        #expect(throws: MigrationError.self) { try CampaignSubset.conditions(parsing: ["custom:country=DE", "custom:country=FR"]) }
    }

    @Test("values compare exactly; a user without the attribute meets no condition; conditions are ANDed")
    func matches() throws {
        let subset = CampaignSubset(conditions: try CampaignSubset.conditions(parsing: ["custom:country=DE,FR", "locale=de-DE,fr-FR"]))
        #expect(subset.matches(Self.attributes(["custom:country": "DE", "locale": "de-DE"])))
        #expect(subset.matches(Self.attributes(["custom:country": "FR", "locale": "de-DE"])))
        #expect(!subset.matches(Self.attributes(["custom:country": "DE"])), "no locale")
        #expect(!subset.matches(Self.attributes(["custom:country": "US", "locale": "de-DE"])))
        #expect(!subset.matches(Self.attributes(["custom:country": "de", "locale": "de-DE"])), "case counts")
        #expect(!subset.matches(Self.attributes(["custom:country": " DE", "locale": "de-DE"])), "spaces count")
        #expect(!subset.matches(Self.attributes([:])))
        // No conditions: everyone matches; a member file still has its say.
        let fileOnly = CampaignSubset(members: CampaignSubset.MemberCounts(usernames: 1, subs: 0))
        #expect(fileOnly.matches(Self.attributes([:])))
        #expect(fileOnly.admits(Self.attributes([:]), listed: true) && !fileOnly.admits(Self.attributes([:]), listed: false))
        #expect(subset.admits(Self.attributes(["custom:country": "DE", "locale": "de-DE"]), listed: false), "no member file")
    }

    @Test("--only-file: usernames as given, subs in lower case, an optional source pool, comments, blank lines, CR-LF, each once")
    func parsesMembers() throws {
        let text = """
            # EU users, exported 2026-11-20
            alice
            Bob\r
              0B1C2D3E-0000-4000-8000-000000000001\t
            eu-west-1_Source carol
            eu-west-1_Source\t0b1c2d3e-0000-4000-8000-000000000002

            alice
            0b1c2d3e-0000-4000-8000-000000000001
            """
        let members = try CampaignSubset.members(parsing: text, sources: [Self.source, Self.other])
        #expect(
            members == [
                SubsetMember(pool: nil, kind: .username, key: "alice"), SubsetMember(pool: nil, kind: .username, key: "Bob"),
                SubsetMember(pool: nil, kind: .sub, key: "0b1c2d3e-0000-4000-8000-000000000001"),
                SubsetMember(pool: Self.source, kind: .username, key: "carol"),
                SubsetMember(pool: Self.source, kind: .sub, key: "0b1c2d3e-0000-4000-8000-000000000002"),
            ])
        #expect(CampaignSubset.counts(of: members) == CampaignSubset.MemberCounts(usernames: 3, subs: 2))
    }

    @Test("--only-file refuses a pool that is not a source, a line of three fields, control characters and an empty list")
    func refusesMembers() {
        for text in ["ap-south-1_Elsewhere alice", "eu-west-1_Source alice extra", "ali\u{7}ce", "# nobody\n\n", ""] {
            #expect(throws: MigrationError.self, "\(text)") { try CampaignSubset.members(parsing: text, sources: [Self.source]) }
        }
        do {
            _ = try CampaignSubset.members(parsing: "alice\nus-west-2_Nope bob\n", sources: [Self.source])
            Issue.record("accepted a pool that is not a source")
        } catch {
            #expect("\(error)".contains("line 2"), "\(error)")
        }
    }

    @Test("stored and recorded: attribute names, values and the member file's counts; read back the same")
    func json() throws {
        let subset = CampaignSubset(
            conditions: [CampaignSubset.Condition(attribute: "custom:country", values: ["DE", "FR"])],
            members: CampaignSubset.MemberCounts(usernames: 2, subs: 1))
        let json = JSONValue.object(subset.json)
        #expect(json.canonicalText == #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country","values":["DE","FR"]}]}"#)
        #expect(CampaignSubset(json: json) == subset)
        #expect(CampaignSubset(json: .object(["only": .string("DE")])) == nil)
        #expect(subset.summary == "custom:country=DE,FR; member file: 2 usernames, 1 subs")
    }

    @Test("a campaign's subset: conditions and members checked with the campaign")
    func newCampaign() throws {
        var new = NewCampaign(target: PoolID("eu-central-1_Target")!, sources: [Self.source])
        #expect(new.subset == nil)
        new.subsetConditions = [CampaignSubset.Condition(attribute: "custom:country", values: ["DE"])]
        new.subsetMembers = [SubsetMember(pool: nil, kind: .username, key: "alice")]
        #expect(try new.validated().subset?.members == CampaignSubset.MemberCounts(usernames: 1, subs: 0))
        new.subsetMembers = [SubsetMember(pool: Self.other, kind: .username, key: "alice")]
        #expect(throws: MigrationError.self) { try new.validated() }
        new.subsetMembers = []
        #expect(throws: MigrationError.self) { try new.validated() }
    }
}

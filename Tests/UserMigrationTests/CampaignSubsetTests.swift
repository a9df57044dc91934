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

    @Test(
        "stored: attribute names and the member file's counts, the values apart; recorded: each attribute's count and digest, never a value"
    )
    func json() throws {
        let subset = CampaignSubset(
            conditions: [
                CampaignSubset.Condition(attribute: "custom:country", values: ["FR", "DE"]),
                CampaignSubset.Condition(attribute: "email", values: ["zoe@example.com", "Adam@example.com"]),
            ],
            members: CampaignSubset.MemberCounts(usernames: 2, subs: 1))
        let stored = JSONValue.object(subset.storedJSON)
        #expect(
            stored.canonicalText
                == #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country"},{"attribute":"email"}]}"#)
        let values = ["custom:country": ["FR", "DE"], "email": ["zoe@example.com", "Adam@example.com"]]
        #expect(CampaignSubset(storedJSON: stored, values: values) == subset)
        // An attribute whose values an erasure took: a condition that admits nobody, never no condition.
        let emptied = try #require(CampaignSubset(storedJSON: stored, values: ["custom:country": ["FR", "DE"]]))
        #expect(emptied.conditions.map(\.attribute) == ["custom:country", "email"] && emptied.conditions[1].values.isEmpty)
        #expect(!emptied.matches(Self.attributes(["custom:country": "DE", "email": "zoe@example.com"])))
        #expect(CampaignSubset(storedJSON: .object(["only": .string("DE")]), values: [:]) == nil)
        #expect(subset.summary == "custom:country=FR,DE; email=zoe@example.com,Adam@example.com; member file: 2 usernames, 1 subs")

        // sha256 of the values sorted by their bytes ("A" before "z"), one a line, no newline at the
        // end: `printf %s "$(LC_ALL=C sort -u values.txt)" | sha256sum` (vectors from sha256sum).
        let countries = "2138be25314175a03908659c0547b7810b37e4f85dd4b7bac12b3b9fd4a15e71"  // "DE\nFR"
        let emails = "571f9c2a9bcc20e5fc2edd92bfecb9f54f41ccfef2ac4c24a6111fbde57b7e7c"  // "Adam@example.com\nzoe@example.com"
        #expect(subset.conditions[0].valuesDigest == countries && subset.conditions[1].valuesDigest == emails)
        let recorded = JSONValue.object(subset.recordedJSON).canonicalText
        #expect(
            recorded
                == #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country","count":2,"sha256":""# + countries
                + #""},{"attribute":"email","count":2,"sha256":""# + emails + #""}]}"#)
        #expect(!recorded.contains("example.com") && !recorded.contains("\"DE\""))
    }

    @Test("a campaign's values: a line break in one, or one given twice, is refused (the digest is over one value a line)")
    func refusesValues() {
        for values in [["DE", "DE"], ["DE\nFR"], ["a\r"]] {
            var new = NewCampaign(target: PoolID("eu-central-1_Target")!, sources: [Self.source])
            new.subsetConditions = [CampaignSubset.Condition(attribute: "custom:country", values: values)]
            #expect(throws: MigrationError.self, "\(values)") { try new.validated() }
        }
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

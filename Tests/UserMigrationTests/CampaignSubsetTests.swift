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
        "stored: attribute names, values and the member file's counts, read back the same; recorded: each attribute's count, never a value"
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
                == #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country","values":["FR","DE"]},"#
                + #"{"attribute":"email","values":["zoe@example.com","Adam@example.com"]}]}"#)
        #expect(CampaignSubset(storedJSON: stored) == subset)
        #expect(CampaignSubset(storedJSON: .object(["only": .string("DE")])) == nil)
        #expect(CampaignSubset(storedJSON: .object(["only": .array([.object(["attribute": "email"])])])) == nil, "values missing")
        #expect(subset.summary == "custom:country=FR,DE; email=zoe@example.com,Adam@example.com; member file: 2 usernames, 1 subs")

        // The event: how many values each condition has, no value and no digest of one (a digest
        // of a guessable value is as good as the value).
        let recorded = JSONValue.object(subset.recordedJSON).canonicalText
        #expect(
            recorded
                == #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country","count":2},"#
                + #"{"attribute":"email","count":2}]}"#)
        #expect(!recorded.contains("example.com") && !recorded.contains("\"DE\"") && !recorded.contains("\"FR\""))
        #expect(recorded.firstMatch(of: /[0-9a-fA-F]{32,}/) == nil, "no digest")
    }

    @Test("a condition whose values an erasure emptied reads back and admits nobody, never everybody")
    func emptiedCondition() throws {
        let stored = try Self.parse(#"{"only":[{"attribute":"custom:country","values":["DE"]},{"attribute":"email","values":[]}]}"#)
        let subset = try #require(CampaignSubset(storedJSON: stored))
        #expect(subset.conditions.map(\.attribute) == ["custom:country", "email"] && subset.conditions[1].values.isEmpty)
        #expect(!subset.conditions[1].holds(for: "zoe@example.com") && !subset.conditions[1].holds(for: ""))
        #expect(!subset.matches(Self.attributes(["custom:country": "DE", "email": "zoe@example.com"])))
        #expect(!subset.matches(Self.attributes(["custom:country": "DE"])))
        #expect(!subset.admits(Self.attributes(["custom:country": "DE", "email": "zoe@example.com"]), listed: true))
        // Every condition emptied: still nobody (no conditions at all would be everybody).
        let none = try #require(CampaignSubset(storedJSON: try Self.parse(#"{"only":[{"attribute":"email","values":[]}]}"#)))
        #expect(!none.conditions.isEmpty && !none.matches(Self.attributes(["email": "zoe@example.com"])))
        #expect(!none.matches(Self.attributes([:])))
        // It is written back in the same shape, so a server of the previous release reads it too.
        #expect(Self.previousRelease(JSONValue.object(none.storedJSON)) == none)
    }

    @Test(
        "campaigns.subset as the previous release writes it reads as the same subset, and what this release writes is that shape byte for byte"
    )
    func previousReleaseShape() throws {
        // Subsets as the release before sql/0028 stored them (canonical JSON text: sorted keys, no
        // spaces): two conditions and a member file; `--only email=…`; a member file alone.
        let cases: [(text: String, subset: CampaignSubset)] = [
            (
                #"{"members":{"subs":1,"usernames":2},"only":[{"attribute":"custom:country","values":["DE","FR"]},"#
                    + #"{"attribute":"locale","values":["de-DE"]}]}"#,
                CampaignSubset(
                    conditions: [
                        CampaignSubset.Condition(attribute: "custom:country", values: ["DE", "FR"]),
                        CampaignSubset.Condition(attribute: "locale", values: ["de-DE"]),
                    ],
                    members: CampaignSubset.MemberCounts(usernames: 2, subs: 1))
            ),
            (
                #"{"only":[{"attribute":"email","values":["zoe@example.com","user1@example.com"]}]}"#,
                CampaignSubset(conditions: [CampaignSubset.Condition(attribute: "email", values: ["zoe@example.com", "user1@example.com"])])
            ),
            (
                #"{"members":{"subs":0,"usernames":1},"only":[]}"#,
                CampaignSubset(members: CampaignSubset.MemberCounts(usernames: 1, subs: 0))
            ),
        ]
        for (text, subset) in cases {
            // Old → new: a campaign the previous release made is the same campaign here.
            #expect(CampaignSubset(storedJSON: try Self.parse(text)) == subset, "\(text)")
            // New → old: this release writes the very text, and the previous release's rules read it.
            let written = JSONValue.object(subset.storedJSON)
            #expect(written.canonicalText == text)
            #expect(Self.previousRelease(written) == subset, "\(text)")
            // And, read without this module's types at all: `values` is there for every `--only`.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(written.canonicalText.utf8)) as? [String: Any])
            let only = try #require(object["only"] as? [[String: Any]])
            #expect(only.count == subset.conditions.count)
            for (item, condition) in zip(only, subset.conditions) {
                #expect(item["attribute"] as? String == condition.attribute)
                #expect(item["values"] as? [String] == condition.values)
            }
        }
    }

    /// JSON text as `campaigns.subset` hands it over.
    static func parse(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// The previous release's reading of `campaigns.subset` (its `CampaignSubset(json:)`), kept here
    /// to hold this release to it: `only` an array whose every item has a string `attribute` and a
    /// `values` array (its strings the values); `members`, when an object, two numbers.
    static func previousRelease(_ json: JSONValue) -> CampaignSubset? {
        guard case .object(let object) = json, let only = object["only"]?.arrayValue else { return nil }
        var conditions: [CampaignSubset.Condition] = []
        for item in only {
            guard let attribute = item["attribute"]?.stringValue, let values = item["values"]?.arrayValue?.compactMap(\.stringValue)
            else { return nil }
            conditions.append(CampaignSubset.Condition(attribute: attribute, values: values))
        }
        var members: CampaignSubset.MemberCounts?
        if case .object(let counts)? = object["members"] {
            guard case .number(let usernames)? = counts["usernames"], case .number(let subs)? = counts["subs"] else { return nil }
            members = CampaignSubset.MemberCounts(usernames: Int(usernames), subs: Int(subs))
        }
        return CampaignSubset(conditions: conditions, members: members)
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

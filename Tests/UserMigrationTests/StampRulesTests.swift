import Cognito
import Foundation
import IdentityMap
import Testing

@testable import UserMigration

/// The pure parts of `stableid stamp`: which pools and attributes it refuses, what it does with
/// each user (write, clear, leave alone), and when a page's progress may be saved.
@Suite("Stamp: refusals, decisions, saved pages", .timeLimit(.minutes(2)))
struct StampRulesTests {
    static let attribute = "custom:stable_id"
    static let person = UUID(uuidString: "0193f2c4-5b1e-7c3a-9d2e-4f6a8b0c1d2e")!
    static let entry = StampSafety.SchemaEntry(name: attribute, dataType: "String", mutable: true, minLength: 0, maxLength: 2048)

    func safety(_ schema: [StampSafety.SchemaEntry] = [entry], _ clients: [StampSafety.AppClient] = []) -> StampSafety {
        StampSafety(attribute: Self.attribute, pool: "us-east-1_Stamp", schema: schema, clients: clients)
    }

    @Test("a mutable custom String attribute no client can write is stamped; anything else is refused, naming why")
    func refusals() {
        let readOnly = StampSafety.AppClient(id: "app1", name: "web", writeAttributes: ["email", "custom:other"])
        #expect(safety([Self.entry], [readOnly]).refusal == nil)
        // WriteAttributes unset: the client writes every attribute.
        let unset = StampSafety.AppClient(id: "app2", name: "mobile", writeAttributes: nil)
        let naming = StampSafety.AppClient(id: "app0", name: nil, writeAttributes: [Self.attribute])
        #expect(
            safety([Self.entry], [readOnly, unset, naming]).refusal
                == .writableByClients(attribute: Self.attribute, pool: "us-east-1_Stamp", clients: ["app0", "app2 (mobile)"]))
        #expect(safety([Self.entry], [unset]).refusal?.description.contains("app2 (mobile)") == true)
        #expect(safety([], []).refusal == .notInSchema(attribute: Self.attribute, pool: "us-east-1_Stamp"))
        #expect(safety([StampSafety.SchemaEntry(name: "custom:other", dataType: "String", mutable: true)]).refusal != nil)
        #expect(
            safety([StampSafety.SchemaEntry(name: Self.attribute, dataType: "Number", mutable: true)]).refusal
                == .notString(attribute: Self.attribute, type: "Number"))
        #expect(
            safety([StampSafety.SchemaEntry(name: Self.attribute, dataType: "String", mutable: false)]).refusal
                == .immutable(attribute: Self.attribute))
        #expect(
            safety([StampSafety.SchemaEntry(name: Self.attribute, dataType: "String", mutable: true, maxLength: 32)]).refusal
                == .tooShort(attribute: Self.attribute, minLength: nil, maxLength: 32))
        #expect(safety([StampSafety.SchemaEntry(name: Self.attribute, dataType: "String", mutable: true, maxLength: 36)]).refusal == nil)
        #expect(safety([StampSafety.SchemaEntry(name: Self.attribute, dataType: nil, mutable: true)]).refusal != nil, "type unknown")
        // A standard attribute is refused before the schema is even looked at.
        let standard = StampSafety(attribute: "nickname", pool: "p", schema: [], clients: [])
        #expect(standard.refusal == .notCustomAttribute("nickname"))
        #expect(!StampSafety.isCustom("custom:") && StampSafety.isCustom("custom:x") && !StampSafety.isCustom("dev:custom:x"))
    }

    @Test("WriteAttributes as DescribeUserPoolClient and DescribeUserPool answer them: unset writes everything; limits as strings")
    func readFromCognito() throws {
        let unset = try JSONDecoder().decode(UserPoolClientDescription.self, from: Data(#"{"ClientId": "a", "ClientName": "web"}"#.utf8))
        let listed = try JSONDecoder().decode(
            UserPoolClientDescription.self, from: Data(#"{"ClientId": "b", "WriteAttributes": ["email"]}"#.utf8))
        #expect(unset.canWrite(Self.attribute) && !listed.canWrite(Self.attribute) && listed.canWrite("email"))
        #expect(StampSafety.AppClient(unset).canWrite(Self.attribute) && !StampSafety.AppClient(listed).canWrite(Self.attribute))
        let schema = try JSONDecoder().decode(
            [UserPoolDescription.SchemaAttribute].self,
            from: Data(
                #"""
                [{"Name": "custom:stable_id", "AttributeDataType": "String", "Mutable": true,
                  "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "20"}},
                 {"Name": "custom:n", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": 64}},
                 {"Name": "custom:z", "AttributeDataType": "String", "StringAttributeConstraints": null}]
                """#.utf8))
        let entries = schema.compactMap { StampSafety.SchemaEntry($0) }
        #expect(entries.map(\.maxLength) == [20, 64, nil] && entries[0].minLength == 1)
        #expect(safety(entries).refusal == .tooShort(attribute: Self.attribute, minLength: 1, maxLength: 20))
    }

    @Test("each user: unmapped, inactive, already right (or counted by this run before), else the survivor's ID")
    func decisions() {
        let right = StampDecision.value(of: Self.person)
        let fact = StampMapFact(person: Self.person, personStatus: .active, identityStatus: .active)
        #expect(StampDecision.decide(enabled: true, current: nil, fact: nil) == .unmapped)
        #expect(StampDecision.decide(enabled: true, current: nil, fact: fact) == .change(person: Self.person))
        #expect(StampDecision.decide(enabled: nil, current: "someone-else", fact: fact) == .change(person: Self.person))
        #expect(StampDecision.decide(enabled: true, current: right, fact: fact) == .alreadyRight)
        #expect(StampDecision.decide(enabled: true, current: right.uppercased(), fact: fact) == .change(person: Self.person))
        var counted = fact
        counted.stampedByRun = true
        #expect(StampDecision.decide(enabled: true, current: right, fact: counted) == .alreadyCounted)
        #expect(StampDecision.decide(enabled: true, current: nil, fact: counted) == .change(person: Self.person))
        #expect(StampDecision.decide(enabled: false, current: nil, fact: fact) == .inactive)
        let others: [(IdentityStatus, UserStatus, StampDecision)] = [
            (.disabled, .active, .inactive), (.deleted, .active, .inactive), (.active, .deleted, .inactive),
            (.unlinked, .active, .unmapped),
        ]
        for (identity, person, expected) in others {
            let other = StampMapFact(person: Self.person, personStatus: person, identityStatus: identity)
            #expect(StampDecision.decide(enabled: true, current: nil, fact: other) == expected, "\(identity) \(person)")
        }
        #expect(right == right.lowercased() && right.count == StampSafety.valueLength)
    }

    @Test("no active mapping: the value goes; inactive: only its person's own stays; a campaign's link evidence stays")
    func clears() {
        let right = StampDecision.value(of: Self.person)
        let other = UUID(uuidString: "0193f2c4-0000-7000-8000-00000000beef")!.uuidString.lowercased()
        let active = StampMapFact(person: Self.person, personStatus: .active, identityStatus: .active)
        // Not in the map: any value goes (someone else's ID, text), enabled or not; an empty one is none.
        #expect(StampDecision.decide(enabled: true, current: other, fact: nil) == .clear(reason: .notInMap, person: nil))
        #expect(StampDecision.decide(enabled: false, current: "admin typed this", fact: nil) == .clear(reason: .notInMap, person: nil))
        #expect(StampDecision.decide(enabled: true, current: "", fact: nil) == .unmapped)
        // ...unless the pool's campaign links new subs by the attribute: there it is link evidence.
        #expect(StampDecision.decide(enabled: true, current: other, fact: nil, keepUnmapped: true) == .unmapped)
        // ...a UUID only: text the trigger could never link by is a claim with nothing behind it.
        #expect(
            StampDecision.decide(enabled: true, current: "admin typed this", fact: nil, keepUnmapped: true)
                == .clear(reason: .notInMap, person: nil))
        // Unlinked: even its old person's own ID goes, in a campaign's target too (the trigger leaves it unlinked).
        let unlinked = StampMapFact(person: Self.person, personStatus: .active, identityStatus: .unlinked)
        for keep in [false, true] {
            #expect(
                StampDecision.decide(enabled: true, current: right, fact: unlinked, keepUnmapped: keep)
                    == .clear(reason: .unlinked, person: Self.person))
        }
        // A deleted person: its own ID goes too.
        let deleted = StampMapFact(person: Self.person, personStatus: .deleted, identityStatus: .active)
        #expect(StampDecision.decide(enabled: true, current: right, fact: deleted) == .clear(reason: .personDeleted, person: Self.person))
        // Inactive (disabled in Cognito, or its identity disabled or deleted in the map): never written;
        // its person's own ID stays (any spelling), anything else goes — a merged ID included.
        let inactive: [(Bool, StampMapFact)] = [
            (false, active), (true, StampMapFact(person: Self.person, personStatus: .active, identityStatus: .disabled)),
            (true, StampMapFact(person: Self.person, personStatus: .active, identityStatus: .deleted)),
        ]
        for (enabled, fact) in inactive {
            #expect(StampDecision.decide(enabled: enabled, current: right, fact: fact) == .inactive, "\(fact)")
            #expect(StampDecision.decide(enabled: enabled, current: right.uppercased(), fact: fact) == .inactive, "\(fact)")
            #expect(StampDecision.decide(enabled: enabled, current: nil, fact: fact) == .inactive, "\(fact)")
            #expect(
                StampDecision.decide(enabled: enabled, current: other, fact: fact, keepUnmapped: true)
                    == .clear(reason: .notThePerson, person: Self.person), "\(fact)")
            #expect(
                StampDecision.decide(enabled: enabled, current: "not an id", fact: fact)
                    == .clear(reason: .notThePerson, person: Self.person))
        }
        // An active mapped user is written, never cleared, whatever it holds.
        #expect(StampDecision.decide(enabled: true, current: other, fact: active, keepUnmapped: true) == .change(person: Self.person))
        // Cleared and recorded by this run before an interruption: counted then...
        #expect(StampDecision.decide(enabled: true, current: nil, fact: nil, clearedByRun: true) == .alreadyCounted)
        #expect(StampDecision.decide(enabled: true, current: nil, fact: unlinked, clearedByRun: true) == .alreadyCounted)
        #expect(StampDecision.decide(enabled: true, current: nil, fact: deleted, clearedByRun: true) == .alreadyCounted)
        #expect(StampDecision.decide(enabled: false, current: nil, fact: active, clearedByRun: true) == .alreadyCounted)
        // ...but a value put back since goes again.
        #expect(
            StampDecision.decide(enabled: true, current: other, fact: nil, clearedByRun: true) == .clear(reason: .notInMap, person: nil))
    }

    @Test("a page's progress is handed out only once it and every page before it are fully handled")
    func windowKeepsOrder() {
        var window = StampWindow()
        let first = window.open(nextToken: "t1", users: 3, counts: StampCounts(seen: 1, skipped: 1))
        window.dispatched(to: first)
        window.dispatched(to: first)
        window.close(first)
        let second = window.open(nextToken: "t2", users: 2, counts: StampCounts(seen: 2, skipped: 2))
        window.close(second)
        #expect(window.takeFinished().isEmpty, "the second page is done, but the first still has writes out")
        window.returned(to: first, adding: StampCounts())
        let third = window.open(nextToken: nil, users: 1, counts: StampCounts())
        window.dispatched(to: third)
        window.returned(to: third, adding: StampCounts(seen: 1, gone: 1))
        #expect(window.takeFinished().isEmpty)
        let failure = StampSummary.Failure(person: Self.person, code: "InvalidParameterException")
        window.returned(to: first, adding: StampCounts(seen: 1, failed: 1), failure: failure)
        let done = window.takeFinished()
        #expect(done.map(\.nextToken) == ["t1", "t2"], "the third is not closed yet")
        #expect(done[0].counts == StampCounts(seen: 2, skipped: 1, failed: 1) && done[0].failures == [failure])
        window.close(third)
        #expect(window.takeFinished().map(\.counts) == [StampCounts(seen: 1, gone: 1)])
        #expect(window.isEmpty)
        // A page the run stopped in (its --limit) is never handed out, nor any after it.
        let stopped = window.open(nextToken: "t4", users: 2, counts: StampCounts())
        window.dispatched(to: stopped)
        window.returned(to: stopped, adding: StampCounts())
        #expect(window.takeFinished().isEmpty)
    }

    @Test("the events' details: no value but a UUID is ever copied from the attribute, written or removed")
    func eventDetails() {
        let run = UUID()
        let merged = UUID()
        let replaced = UserStampedDetails(run: run, attribute: Self.attribute, previous: merged.uuidString.lowercased())
        #expect(replaced.json["previous"] == JSONValue(merged) && replaced.json["replaced"] == .bool(true))
        let text = UserStampedDetails(run: run, attribute: Self.attribute, previous: "alice@example.com")
        #expect(text.json["previous"] == nil && text.json["replaced"] == .bool(true))
        #expect(UserStampedDetails(run: run, attribute: Self.attribute, previous: nil).json["replaced"] == .bool(false))
        let counts = StampCounts(seen: 7, changed: 2, cleared: 1, skipped: 1, unmapped: 1, inactive: 1, gone: 0, failed: 1)
        let finished = StampRunFinishedDetails(
            run: run, attribute: Self.attribute, state: .completed, resumed: true, pages: 2, counts: counts)
        #expect(finished.json["changed"] == .number(2) && finished.json["state"] == .string("completed"))
        #expect(finished.json["cleared"] == .number(1))
        #expect(
            Set(finished.json.keys).isSuperset(of: ["seen", "changed", "cleared", "skipped", "unmapped", "inactive", "gone", "failed"]))
        // A removal: the reason, and the value only when it was a stable ID.
        let cleared = StableIDAttributeClearedDetails(
            run: run, attribute: Self.attribute, reason: .notInMap, previous: merged.uuidString.uppercased())
        #expect(cleared.json["previous"] == JSONValue(merged) && cleared.json["reason"] == .string("not_in_map"))
        #expect(Set(cleared.json.keys) == ["run", "attribute", "reason", "previous"])
        let typed = StableIDAttributeClearedDetails(run: run, attribute: Self.attribute, reason: .notThePerson, previous: "bob@example.com")
        #expect(typed.json["previous"] == nil && typed.json["reason"] == .string("not_the_person"))
        #expect(StampClearReason.allCases.map(\.rawValue) == ["not_in_map", "unlinked", "person_deleted", "not_the_person"])
    }
}

import Cognito
import Foundation
import Testing

@Suite("Cognito user files")
struct UserFileReaderTests {
    func write(_ text: String, suffix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("users-\(UUID().uuidString).\(suffix)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func readAll(_ path: String, chunk: Int = 2) throws -> [UserType] {
        let reader = try UserFileReader(path: path)
        var all: [UserType] = []
        while true {
            let users = try reader.next(max: chunk)
            if users.isEmpty { return all }
            all += users
        }
    }

    @Test("list-users JSON: one page, concatenated pages, an array of pages; strings with braces and escapes")
    func jsonForms() throws {
        let page1 = #"{"Users": [{"Username": "a{b}", "Attributes": [{"Name": "sub", "Value": "s-1"}, {"Name": "identities", "Value": "[{\"providerName\":\"Google\"}]"}], "Enabled": true}, {"Username": "b\"q", "Attributes": [{"Name": "sub", "Value": "s-2"}]}], "PaginationToken": "x"}"#
        let page2 = #"{"Users": [{"Username": "c", "Attributes": [{"Name": "sub", "Value": "s-3"}], "Enabled": false}]}"#
        #expect(try readAll(write(page1, suffix: "json")).map(\.Username) == ["a{b}", "b\"q"])
        #expect(try readAll(write(page1 + "\n" + page2, suffix: "json")).map(\.Username) == ["a{b}", "b\"q", "c"])
        let both = try readAll(write("[" + page1 + "," + page2 + "]", suffix: "json"))
        #expect(both.map { $0.attribute("sub") } == ["s-1", "s-2", "s-3"])
        #expect(both.last?.Enabled == false)
        #expect(both.first?.attribute("identities") == #"[{"providerName":"Google"}]"#)
    }

    @Test("malformed JSON and non-user objects are refused with a clear error")
    func jsonErrors() throws {
        #expect(throws: UserFileReader.Failure.self) { try readAll(write(#"{"Users": [{"Username": "a"}"#, suffix: "json")) }
        #expect(throws: UserFileReader.Failure.self) { try readAll(write(#"{"Users": [{"Name": "no username"}]}"#, suffix: "json")) }
        #expect(throws: UserFileReader.Failure.self) { try readAll(write(#"{"Users": [}]"#, suffix: "json")) }
    }

    @Test("CSV with quoted fields, embedded commas, quotes and newlines")
    func csv() throws {
        let text = "sub,cognito:username,email,email_verified,enabled\ns-1,alice,alice@example.com,true,true\ns-2,\"bob, jr\",\"b\"\"ob@example.com\",false,false\ns-3,\"multi\nline\",,,\n"
        let users = try readAll(write(text, suffix: "csv"))
        #expect(users.map(\.Username) == ["alice", "bob, jr", "multi\nline"])
        #expect(users[1].attribute("email") == "b\"ob@example.com")
        #expect(users[1].Enabled == false)
        #expect(users[2].attribute("email") == nil)
        #expect(throws: UserFileReader.Failure.self) { try readAll(write("email,username\nx,y\n", suffix: "csv")) }
    }
}

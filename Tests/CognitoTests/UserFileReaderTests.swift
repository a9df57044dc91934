import Cognito
import Foundation
import TestSupport
import Testing

@Suite("Cognito user files", .timeLimit(.minutes(2)))
struct UserFileReaderTests {
    /// Every user the reader finds in a file holding `text`, read `chunk` at a time.
    func readAll(_ text: String, suffix: String = "json", chunk: Int = 2) throws -> [UserType] {
        try withTemporaryDirectory("users") { directory in
            let path = directory.appendingPathComponent("users.\(suffix)").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let reader = try UserFileReader(path: path)
            var all: [UserType] = []
            while true {
                let users = try reader.next(max: chunk)
                if users.isEmpty { return all }
                all += users
            }
        }
    }

    /// The reader's message for `text`, which must be refused.
    func failure(_ text: String) throws -> String {
        do {
            _ = try readAll(text)
        } catch let failure as UserFileReader.Failure {
            return failure.description
        }
        Issue.record("accepted: \(text)")
        return ""
    }

    /// The byte offset of the first `needle` in `text`.
    func offset(of needle: String, in text: String) throws -> Int {
        let range = try #require(text.range(of: needle))
        return text.utf8.distance(from: text.startIndex, to: range.lowerBound)
    }

    /// 2026-11-20T10:11:12.345Z.
    static let created = 1_795_169_472.345

    func isCreated(_ date: Date?, offsetHours: Double = 0) -> Bool {
        guard let date else { return false }
        return abs(date.timeIntervalSince1970 - (Self.created - offsetHours * 3600)) < 0.000_01
    }

    @Test("list-users JSON: one page, concatenated pages, an array of pages; strings with braces and escapes")
    func jsonForms() throws {
        let page1 =
            #"{"Users": [{"Username": "a{b}", "Attributes": [{"Name": "sub", "Value": "s-1"}, {"Name": "identities", "Value": "[{\"providerName\":\"Google\"}]"}], "Enabled": true}, {"Username": "b\"q", "Attributes": [{"Name": "sub", "Value": "s-2"}]}], "PaginationToken": "x"}"#
        let page2 = #"{"Users": [{"Username": "c", "Attributes": [{"Name": "sub", "Value": "s-3"}], "Enabled": false}]}"#
        #expect(try readAll(page1).map(\.Username) == ["a{b}", "b\"q"])
        #expect(try readAll(page1 + "\n" + page2).map(\.Username) == ["a{b}", "b\"q", "c"])
        let both = try readAll("[" + page1 + "," + page2 + "]")
        #expect(both.map { $0.attribute("sub") } == ["s-1", "s-2", "s-3"])
        #expect(both.last?.Enabled == false)
        #expect(both.first?.attribute("identities") == #"[{"providerName":"Google"}]"#)
        #expect(try readAll("").isEmpty)
        #expect(try readAll(#"{"Users": []}"#).isEmpty)
    }

    @Test("escapes: \\u with surrogate pairs, \\n, \\/ and a byte-order mark")
    func escapes() throws {
        let text =
            "\u{FEFF}" + #"{"Users": [{"Username": "caf\u00e9 \ud83d\ude00 a\/b\nc", "Attributes": [{"Name": "sub", "Value": null}]}]}"#
        let users = try readAll(text)
        #expect(users.first?.Username == "café 😀 a/b\nc")
        #expect(users.first?.Attributes == [AttributeType("sub", nil)])
    }

    @Test("AWS CLI v1: epoch-second timestamps")
    func cliV1() throws {
        let text = """
            {
                "Users": [
                    {
                        "Username": "v1",
                        "Attributes": [{"Name": "sub", "Value": "s-1"}],
                        "UserCreateDate": 1795169472.345,
                        "UserLastModifiedDate": 1795169472,
                        "Enabled": true,
                        "UserStatus": "CONFIRMED"
                    }
                ]
            }
            """
        let user = try #require(try readAll(text).first)
        #expect(isCreated(user.UserCreateDate))
        #expect(user.UserLastModifiedDate == Date(timeIntervalSince1970: 1_795_169_472))
        #expect(user.status == .confirmed && user.Enabled == true)
    }

    @Test("AWS CLI v2 (the default output): ISO 8601 strings with an offset")
    func cliV2() throws {
        // Byte 734 of such a file is where the previous reader gave up.
        let text = """
            {
                "Users": [
                    {
                        "Username": "v2",
                        "Attributes": [
                            {"Name": "sub", "Value": "s-2"},
                            {"Name": "email", "Value": "v2@example.com"}
                        ],
                        "UserCreateDate": "2026-11-20T10:11:12.345000+00:00",
                        "UserLastModifiedDate": "2026-11-20T12:11:12.345000+02:00",
                        "Enabled": true,
                        "UserStatus": "FORCE_CHANGE_PASSWORD"
                    }
                ]
            }
            """
        let user = try #require(try readAll(text).first)
        #expect(isCreated(user.UserCreateDate))
        #expect(isCreated(user.UserLastModifiedDate))
        #expect(user.status == .forceChangePassword)
        #expect(user.attribute("email") == "v2@example.com")
    }

    @Test("SDK dumps: a space between date and time")
    func sdkDump() throws {
        let text = #"{"Users": [{"Username": "sdk", "UserCreateDate": "2026-11-20 10:11:12.345000+00:00", "UserStatus": "somethingNew"}]}"#
        let user = try #require(try readAll(text).first)
        #expect(isCreated(user.UserCreateDate))
        #expect(user.status == .unknown)
    }

    @Test("fields in any order; unknown fields skipped however nested, even with brackets in strings")
    func orderAndUnknownFields() throws {
        let text = """
            {"NextToken": {"weird": ["]", "}", {"Pages": "not here"}]}, "Users": [
              {"MFAOptions": [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}],
               "Extra": {"deep": [[[{"a": "}{][\\"", "b": [true, false, null, -1.5e3]}]]]},
               "UserStatus": "EXTERNAL_PROVIDER", "Enabled": false,
               "Attributes": [{"Value": "s-9", "Name": "sub", "Note": {"x": 1}}],
               "UserLastModifiedDate": null,
               "Username": "last"},
              {"Username": "second", "Attributes": null}
            ], "PaginationToken": null}
            """
        let users = try readAll(text, chunk: 1)
        #expect(users.map(\.Username) == ["last", "second"])
        #expect(users[0].attribute("sub") == "s-9" && users[0].Enabled == false && users[0].status == .externalProvider)
        #expect(users[0].UserLastModifiedDate == nil && users[1].Attributes == nil)
    }

    @Test("errors name the field, the problem and the place")
    func jsonErrors() throws {
        let wrongDate = """
            {"Users": [
              {"Username": "a",
               "UserCreateDate": true}
            ]}
            """
        let at = try offset(of: "true", in: wrongDate)
        #expect(try failure(wrongDate) == "UserCreateDate at byte \(at) (line 3, column 22): expected a number or a date string, found 't'")

        let notADate = #"{"Users": [{"Username": "a", "UserCreateDate": "yesterday"}]}"#
        let dateAt = try offset(of: #""yesterday""#, in: notADate)
        #expect(try failure(notADate).hasPrefix("UserCreateDate at byte \(dateAt) (line 1, column \(dateAt + 1)): "))
        #expect(try failure(notADate).contains("'yesterday' is not a date"))

        #expect(try failure(#"{"Users": [{"Name": "no username"}]}"#) == "user object at byte 11 (line 1, column 12): it has no Username")
        #expect(try failure(#"{"Users": [{"Username": 7}]}"#).hasSuffix("expected a string, found '7'"))
        #expect(try failure(#"{"Users": [{"Username": "a", "Enabled": "yes"}]}"#).hasPrefix("Enabled at byte"))
        #expect(try failure(#"{"Users": [{"Username": "a", "Attributes": [{"Value": "x"}]}]}"#).contains("an attribute has no Name"))
        #expect(try failure(#"{"Users": [{"Username": "a"}"#).contains("the file ends before the JSON does"))
        #expect(try failure(#"{"Users": [{"Username": "a"#).contains("the string never ends"))
        #expect(try failure(#"{"Users": [}]"#).hasPrefix("Users at byte 11 (line 1, column 12): expected a user object"))
        #expect(try failure(#"{"Users": {}}"#).hasPrefix("Users at byte 10"))
        #expect(try failure(#"{"Users": [{"Username": "a" "Enabled": true}]}"#).contains("expected ',' or '}', found '\"'"))
        #expect(try failure("Username,sub\n").hasPrefix("list-users JSON at byte 0 (line 1, column 1)"))
    }

    @Test("offsets and lines stay right across the reader's 64 KiB buffer refills")
    func errorPastBufferBoundary() throws {
        let user = #"  {"Username": "u", "Attributes": [{"Name": "sub", "Value": "s"}], "MFAOptions": []},"#
        let count = 2_000  // about 170 KiB
        let text =
            "{\"Users\": [\n" + String(repeating: user + "\n", count: count) + "  {\"Username\": \"z\", \"UserCreateDate\": [1]}\n]}\n"
        let at = try offset(of: "[1]", in: text)
        #expect(
            try failure(text)
                == "UserCreateDate at byte \(at) (line \(count + 2), column 39): expected a number or a date string, found '['")
    }

    @Test("a user larger than several buffer refills is gathered whole; quotes, escapes and brackets in it do not end it early")
    func userAcrossRefills() throws {
        // About 250 KiB inside one string, and 130 KiB of nesting, both cut by 64 KiB refills.
        let blob = String(repeating: #"ab\"{}[]\\"#, count: 25_000)
        let nested = "[" + String(repeating: #"{"k": [1, "]", {"}": "\\\""}]}, "#, count: 5_000) + "0]"
        let text = [
            #"{"Users": [{"Username": "first", "Attributes": [{"Name": "sub", "Value": "s-1"}]},"#, "\n",
            #"  {"Username": "big", "Junk": ""#, blob, #"", "More": "#, nested, ",",
            #" "Attributes": [{"Name": "sub", "Value": "s-2"}, {"Name": "custom:blob", "Value": ""#, blob, #""}],"#,
            #" "Enabled": false},"#, "\n",
            #"  {"Username": "after", "Attributes": [{"Name": "sub", "Value": "s-3"}]}]}"#,
        ].joined()
        #expect(text.utf8.count > 600_000)
        let users = try readAll(text)
        #expect(users.map(\.Username) == ["first", "big", "after"])
        #expect(users.map { $0.attribute("sub") } == ["s-1", "s-2", "s-3"])
        #expect(users.count == 3 && users[1].Enabled == false)
        #expect(users.count == 3 && users[1].attribute("custom:blob") == String(repeating: #"ab"{}[]\"#, count: 25_000))
    }

    /// A pretty-printed page, as the AWS CLI writes it: 11 lines a user, the first user on line 3,
    /// each `UserCreateDate` value at column 31 of line 11 + 11 × (its index).
    func prettyPage(users count: Int, created: (Int) -> String) -> [String] {
        var lines = ["{", #"    "Users": ["#]
        for index in 0..<count {
            lines += [
                "        {",
                #"            "Username": "u\#(index)","#,
                #"            "Attributes": ["#,
                "                {",
                #"                    "Name": "sub","#,
                #"                    "Value": "s-\#(index)""#,
                "                }",
                "            ],",
                #"            "UserCreateDate": \#(created(index)),"#,
                #"            "Enabled": true"#,
                index == count - 1 ? "        }" : "        },",
            ]
        }
        return lines + ["    ]", "}"]
    }

    @Test("an error's line and column are right after many lines, and after many refills dropped them from the buffer")
    func errorLineAfterManyLines() throws {
        let bad = #""2026-02-30T10:11:12Z""#
        for (count, badIndex) in [(5, 2), (3_000, 2_990)] {
            let text = prettyPage(users: count) { $0 == badIndex ? bad : "1795169472.345" }.joined(separator: "\n")
            let at = try offset(of: bad, in: text)
            #expect(
                try failure(text)
                    == "UserCreateDate at byte \(at) (line \(11 + 11 * badIndex), column 31): "
                    + "'2026-02-30T10:11:12Z' is not a date (expected e.g. 2026-11-20T10:11:12.345000+00:00)",
                "\(count) users")
        }
        // The same file without the bad date reads through.
        let good = prettyPage(users: 3_000) { _ in #""2026-11-20T10:11:12.345000+00:00""# }.joined(separator: "\n")
        let users = try readAll(good, chunk: 1_000)
        #expect(users.count == 3_000 && users.allSatisfy { isCreated($0.UserCreateDate) })
        #expect(users.last?.attribute("sub") == "s-2999")
    }

    @Test("a file cut off inside a user says so, at the end of the file (or at the string that never closes)")
    func truncatedInsideUser() throws {
        let flat = #"{"Users": [{"Username": "a"}, {"Username": "b", "Attributes": [{"Name": "sub", "Value": "s"},"#
        let end = flat.utf8.count
        #expect(try failure(flat) == "Attributes at byte \(end) (line 1, column \(end + 1)): the file ends before the JSON does")
        #expect(try failure(#"{"Users": [{"#) == "user object at byte 12 (line 1, column 13): the file ends before the JSON does")

        // Past many refills, cut after the last user's "Value": "s-…" line.
        var lines = prettyPage(users: 2_000) { _ in "1795169472" }
        lines.removeLast(2 + 5)  // "    ]", "}" and the user's last five lines
        let cut = lines.joined(separator: "\n")
        let lastLine = try #require(lines.last)
        #expect(lastLine.hasSuffix(#""Value": "s-1999""#))
        #expect(
            try failure(cut)
                == "Attributes at byte \(cut.utf8.count) (line \(lines.count), column \(lastLine.utf8.count + 1)): "
                + "the file ends before the JSON does"
        )

        let unclosed = #"{"Users": [{"Username": "a", "UserStatus": "CONF"#
        let quote = try offset(of: #""CONF"#, in: unclosed)
        #expect(try failure(unclosed) == "UserStatus at byte \(quote) (line 1, column \(quote + 1)): the string never ends")
    }

    @Test("a user object that never ends is refused past 16 MiB instead of filling memory")
    func oversizedUser() throws {
        let text = #"{"Users": [{"Username": ""# + String(repeating: "x", count: 17 << 20)
        #expect(try failure(text) == "user object at byte 11 (line 1, column 12): larger than 16 MiB")
    }

    @Test("UserType decodes epoch numbers and date strings, and encodes epoch numbers")
    func userTypeCoding() throws {
        let decoded = try JSONDecoder().decode(
            [UserType].self,
            from: Data(
                #"[{"Username": "a", "UserCreateDate": 1795169472.345}, {"Username": "b", "UserCreateDate": "2026-11-20T10:11:12.345+00:00"}]"#
                    .utf8)
        )
        #expect(decoded.allSatisfy { isCreated($0.UserCreateDate) })
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(decoded[1])) as? [String: Any]
        #expect((encoded?["UserCreateDate"] as? Double).map { abs($0 - Self.created) < 0.000_01 } == true)
    }

    @Test("CSV with quoted fields, embedded commas, quotes and newlines; custom attributes keep their spelling")
    func csv() throws {
        let text =
            "sub,cognito:username,email,email_verified,enabled,custom:StableId\ns-1,alice,alice@example.com,true,true,u-1\ns-2,\"bob, jr\",\"b\"\"ob@example.com\",false,false,\ns-3,\"multi\nline\",,,,\n"
        let users = try readAll(text, suffix: "csv")
        #expect(users.map(\.Username) == ["alice", "bob, jr", "multi\nline"])
        #expect(users[0].attribute("custom:StableId") == "u-1")
        #expect(users[1].attribute("email") == "b\"ob@example.com")
        #expect(users[1].attribute("custom:StableId") == nil)
        #expect(users[1].Enabled == false)
        #expect(users[2].attribute("email") == nil)
        #expect(throws: UserFileReader.Failure.self) { try readAll("email,username\nx,y\n", suffix: "csv") }
    }
}

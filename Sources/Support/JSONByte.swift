/// The bytes JSON's grammar is made of, by name (shared with the file reader's page walk).
public enum JSONByte {
    public static let quote = UInt8(ascii: "\"")
    public static let backslash = UInt8(ascii: "\\")
    public static let openBrace = UInt8(ascii: "{")
    public static let closeBrace = UInt8(ascii: "}")
    public static let openBracket = UInt8(ascii: "[")
    public static let closeBracket = UInt8(ascii: "]")
    public static let comma = UInt8(ascii: ",")
    public static let colon = UInt8(ascii: ":")
    public static let minus = UInt8(ascii: "-")
    public static let zero = UInt8(ascii: "0")
    public static let nine = UInt8(ascii: "9")
    public static let space = UInt8(ascii: " ")
    public static let tab = UInt8(ascii: "\t")
    public static let lineFeed = UInt8(ascii: "\n")
    public static let carriageReturn = UInt8(ascii: "\r")
}

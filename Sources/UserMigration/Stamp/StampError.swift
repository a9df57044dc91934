/// Why `stableid stamp` refused to run. Each is the operator's to fix (the CLI exits 2); Cognito
/// and PostgreSQL failures stay what they are.
public enum StampError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not `custom:…`: a standard attribute is one users can set for themselves (or one Cognito owns).
    case notCustomAttribute(String)
    case notInSchema(attribute: String, pool: String)
    /// Not a `String` attribute (the stable ID is UUID text).
    case notString(attribute: String, type: String?)
    /// Immutable custom attributes are set when a user is created, never after.
    case immutable(attribute: String)
    /// Its length limits leave no room for the 36 characters of a UUID.
    case tooShort(attribute: String, minLength: Int?, maxLength: Int?)
    /// App clients that can write the attribute, each `id (name)`: any user could set their own.
    case writableByClients(attribute: String, pool: String, clients: [String])
    /// Another stamp of the pool holds its lock.
    case busy(pool: String)
    /// `--resume` without a run of the pool and attribute to resume; `other` names the attribute
    /// of the pool's unfinished run, when it has one.
    case nothingToResume(pool: String, attribute: String, other: String?)

    public var description: String {
        switch self {
        case .notCustomAttribute(let attribute):
            return "\(attribute) is not a custom attribute (custom:…): users may be able to set a standard attribute themselves"
        case .notInSchema(let attribute, let pool):
            return "pool \(pool) has no \(attribute) attribute: add it to the pool's schema (String, mutable) first"
        case .notString(let attribute, let type):
            return "\(attribute) is of type \(type ?? "unknown"), not String: the stable ID is written as UUID text"
        case .immutable(let attribute):
            return "\(attribute) is immutable: Cognito sets it only when a user is created, so it cannot be stamped"
        case .tooShort(let attribute, let minLength, let maxLength):
            return "\(attribute) takes \(minLength ?? 0) to \(maxLength.map(String.init) ?? "any number of") characters: "
                + "a stable ID is 36"
        case .writableByClients(let attribute, let pool, let clients):
            return "refusing to stamp \(attribute) into \(pool): app clients can write it, so any user could set their own: "
                + clients.joined(separator: ", ")
                + ". Give each of them WriteAttributes without \(attribute) (unset WriteAttributes means every attribute), then run again"
        case .busy(let pool):
            return "another stamp of pool \(pool) is running: one run per pool at a time; wait for it to end"
        case .nothingToResume(let pool, let attribute, let other):
            let note = other.map { " (its unfinished run stamps \($0))" } ?? ""
            return "no interrupted stamp of \(attribute) into pool \(pool) to resume\(note): run without --resume"
        }
    }
}

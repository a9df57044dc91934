public import Foundation

/// Runs `body` with a new, empty directory of its own under the system's temporary directory, and
/// removes the directory with everything in it when `body` returns or throws: a test run leaves
/// nothing in /tmp. Anything a failing test needs from it (a server's log) belongs in the test's
/// failure message, read before `body` returns.
///
/// A scope rather than an object that cleans up in `deinit`: Swift may end an object's lifetime
/// at its last use, and a child process may still be writing into the directory after that.
public func withTemporaryDirectory<Value>(_ label: String = "test", _ body: (URL) throws -> Value) throws -> Value {
    let directory = try TemporaryDirectory.make(label)
    defer { TemporaryDirectory.remove(directory) }
    return try body(directory)
}

/// `withTemporaryDirectory` for an async `body`, run on the caller's actor.
public func withTemporaryDirectory<Value>(
    _ label: String = "test", isolation: isolated (any Actor)? = #isolation, _ body: (URL) async throws -> Value
) async throws -> Value {
    let directory = try TemporaryDirectory.make(label)
    defer { TemporaryDirectory.remove(directory) }
    return try await body(directory)
}

/// Where `withTemporaryDirectory` makes and removes its directories.
enum TemporaryDirectory {
    /// `stableid-<label>-<UUID>`, created here so two tests can never share one.
    static func make(_ label: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stableid-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        return directory
    }

    static func remove(_ directory: URL) {
        try? FileManager.default.removeItem(at: directory)
    }
}

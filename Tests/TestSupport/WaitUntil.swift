/// Polls `condition` every `interval` until it holds (true) or `limit` has passed (false).
///
/// For a state the code reaches in its own time (a listener connected, a waiter queued, a
/// deadline passed): a fixed sleep is a guess that a busy machine breaks one way or the other,
/// while a poll waits exactly as long as needed. The caller asserts the answer (`#require` or
/// `#expect`), so a condition that never comes fails the test instead of letting it pass without
/// having tested anything. Give `limit` generously: it is only reached when something is wrong.
public func waitUntil(
    within limit: Duration, every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
}

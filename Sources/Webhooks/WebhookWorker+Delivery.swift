import ChangeFeed
import Curl
import Foundation
import Logging
import Support

extension WebhookWorker {
    /// The `webhook-id` of the message ending at `next`: the same on every attempt, from any
    /// server (`msg_` + the endpoint's id in hex + `_` + the feed cursor after the message, its
    /// check included — so a message at a position a lossy failover reused gets an id of its own,
    /// and a receiver that drops repeated ids does not drop it).
    static func messageID(endpoint: UUID, next: FeedCursor) -> String {
        "msg_" + endpoint.uuidString.lowercased().replacingOccurrences(of: "-", with: "") + "_" + next.text
    }

    /// The most of an answer's body kept: nothing reads it but a human debugging with a proxy.
    /// Truncated, not refused: the status is all that counts, and a receiver that took the message
    /// and says so at length must not see it again. The rest of a long answer is read and dropped
    /// within the attempt's timeout, so neither memory nor time grows with it.
    static let maxAnswerBytes = 4_096

    /// Attempts the message until the receiver takes it, then moves the cursor past it. Between
    /// failed attempts: ``RetryBackoff`` (renewing the lease meanwhile). The endpoint is disabled
    /// when its receiver answers 410, or when the message has failed for ``WebhookSettings/giveUpAfter``
    /// since its first failure (on the database's clock). Returns early when the server stops.
    mutating func deliver(_ changes: [FeedChange], through: Int64, end: Int64) async throws {
        if pendingThrough != through {
            try await context.store.pin(id, owner: context.owner, through: through, lease: settings.lease)
            pendingThrough = through
            lastWrite = .now
        }
        // `next` is the cursor GET /v1/changes would give there, check included: the same row,
        // so a retry sends the same body.
        let next = try await context.feed.cursor(at: through)
        let body = try context.encode(changes, next)
        let messageID = Self.messageID(endpoint: id, next: next)
        // A retry scheduled before this server took over waits for its time.
        if let due = nextAttemptAt {
            nextAttemptAt = nil
            try await pause(until: .now + .milliseconds(Int64(max(0, due.timeIntervalSinceNow) * 1_000)))
        }
        while !context.isStopping {
            let started = ContinuousClock.now
            let outcome = await attempt(body: body, messageID: messageID)
            metrics.attempt(outcome, took: ContinuousClock.now - started, changes: changes.count)
            if outcome.isDelivered {
                try await context.store.delivered(id, owner: context.owner, through: through, lease: settings.lease)
                cursor = through
                pendingThrough = nil
                attempts = 0
                lastWrite = .now
                metrics.lag(behind: end - through, oldest: nil)
                return
            }
            try await failed(outcome)
        }
    }

    /// One POST, signed for this attempt's time.
    func attempt(body: [UInt8], messageID: String) async -> DeliveryOutcome {
        let timestamp = Int64(Date().timeIntervalSince1970)
        var headers = signer.headers(messageID: messageID, timestamp: timestamp, body: body)
        headers.append(("User-Agent", "stableid-webhooks"))
        // Always a filter, so no proxy from the environment is used; without allow_private it
        // admits public addresses only, checked at each connection after DNS.
        let filter: @Sendable ([UInt8]) -> Bool
        if endpoint.allowPrivate {
            filter = { _ in true }
        } else {
            filter = { address in AddressRule.isPublic(address) }
        }
        let request = CurlRequest(
            method: "POST", url: endpoint.url.text, headers: headers, body: body, timeout: settings.timeout, connectFilter: filter,
            responseBodyLimit: .truncate(at: Self.maxAnswerBytes))
        do throws(CurlError) {
            let response = try await http.send(request)
            return DeliveryOutcome(status: response.status)
        } catch {
            return DeliveryOutcome(error: error)
        }
    }

    /// Records a failed attempt; disables the endpoint when it is time to give up; otherwise waits
    /// for the next attempt.
    mutating func failed(_ outcome: DeliveryOutcome) async throws {
        let delay = settings.backoff.delay(afterFailures: attempts + 1)
        let code = outcome.errorCode ?? DeliveryOutcome.Failure.other.rawValue
        let record = try await context.store.failed(id, owner: context.owner, code: code, retryIn: delay, lease: settings.lease)
        attempts = record.attempts
        lastWrite = .now
        var metadata = logMetadata
        metadata["code"] = "\(code)"
        metadata["attempts"] = "\(record.attempts)"
        if record.attempts == 1 || record.attempts.nonzeroBitCount == 1 {
            // The first failure and then every power of two, so a long outage does not flood the log.
            context.logger.warning("webhook delivery failed; will retry", metadata: metadata)
        }
        if outcome == .gone { try await disable(reason: "gone") }
        if record.now.timeIntervalSince(record.failingSince) >= settings.giveUpAfter.seconds {
            try await disable(reason: "failing")
        }
        try await pause(until: .now + delay)
    }

    /// Waits until `deadline` (or the server stops), renewing the lease on the way.
    mutating func pause(until deadline: ContinuousClock.Instant) async throws {
        while !context.isStopping, ContinuousClock.now < deadline {
            await context.signal.nap(until: min(deadline, lastWrite + settings.renewAfter))
            if !context.isStopping { try await renewIfDue() }
        }
    }
}

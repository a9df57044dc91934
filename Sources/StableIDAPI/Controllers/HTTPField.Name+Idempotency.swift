import HTTPTypes

extension HTTPField.Name {
    /// Sent with a write that may be retried: the first answer is stored with the change and
    /// replayed to a retry of the same request (see `Write.response(to:body:context:on:respond:)`).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `true` on an answer replayed from an earlier request with the same `Idempotency-Key`, so a
    /// client can tell that this request itself changed nothing.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

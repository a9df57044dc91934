public import IdentityMap

extension BackfillImport {
    /// Stages every user `source` yields, a batch at a time, and returns how many. Errors are the
    /// source's (`UserFileReader.Failure`, `CognitoError`) or staging's; what was staged stays
    /// until `finish` or `discard`.
    @discardableResult
    public func stage(from source: UserSource, progress: ProgressReporter? = nil) async throws -> Int {
        var staged = 0
        for try await batch in source.batches() {
            try await stage(batch.records.map(\.backfillRecord))
            staged += batch.records.count
            progress?.update(adding: batch.records.count, detail: batch.progress.description)
        }
        return staged
    }
}

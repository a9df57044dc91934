import Cognito
public import Foundation
public import IdentityMap
import Postgres

// Pre token generation for a sub that is already linked — nearly every token event, refreshes
// included — answered from the bytes of the request and the in-process read model, with no
// database round trip and no `TriggerJSON` tree. Everything else takes ``handle(_:attribution:)``.

extension TriggerService {
    /// The answer to a pre token generation event whose sub memory knows to be linked, or nil:
    /// then the caller parses the event and calls ``handle(_:attribution:)``, which answers (or
    /// refuses) exactly as it always has — reading PostgreSQL, and linking a sub that is not linked.
    ///
    /// The rules ``handle(_:attribution:)`` applies to a token event, and how this keeps them:
    /// - the event is read as the general path reads it, or not at all (``TokenGenerationEvent``:
    ///   every field's type, the source, the version; anything it cannot vouch for is nil);
    /// - a token bound to pools: `allowedPool` is the caller's check of `userPoolId`; nil when it
    ///   fails, so the general path answers its 403;
    /// - `userName` within ``isAcceptableUserName(_:)``, `userPoolId` a pool ID, the sub a Cognito
    ///   sub (lower-cased as the map keeps it), else nil and the general path's error;
    /// - the pool registered: `linkedPerson` answers only for an identity memory holds, and an
    ///   identity's pool is a registered pool (a foreign key), which is never removed;
    /// - the person: `linkedPerson` is asked for what `IdentityMapStore.resolve` answers —
    ///   every identity not unlinked, whatever its or its person's status (a disabled identity
    ///   gets its claim, as on the general path), merges already followed — and nil (a miss, or a
    ///   read model that is not live: the same staleness rules as `GET /v1/resolve`) sends the
    ///   event to the general path, which reads PostgreSQL and links the sub if it must;
    /// - the answer: `stable_id` added as `answeringTokenGeneration(stableID:)` adds it, byte for
    ///   byte, or nil when the rewriter refuses the body.
    /// A linked sub's answer depends on no campaign: the general path reads none for it either.
    /// An answered event is a sign-in (or a refresh) of the identity: noted in ``signIns``, a lock
    /// and a dictionary probe, written later by ``writeSignIns(_:)``.
    public func answerLinkedTokenGeneration(
        _ body: UnsafeRawBufferPointer, allowedPool: (String) -> Bool, linkedPerson: (IdentityReference) -> UUID?
    ) -> [UInt8]? {
        guard let event = TokenGenerationEvent.read(body), allowedPool(event.userPoolID), Self.isAcceptableUserName(event.userName),
            let pool = PoolID(event.userPoolID), let sub = CognitoSub.canonical(event.sub),
            let person = linkedPerson(.pool(pool, sub: sub))
        else { return nil }
        guard let answer = TokenGenerationEvent.answer(body, version: event.version, stableID: person.uuidString.lowercased()) else {
            return nil
        }
        signIns.note(pool: pool, sub: sub)
        return answer
    }

    /// Writes the sign-ins ``signIns`` noted (one statement); `serve` calls it every few seconds
    /// and at shutdown. Entries that could not be written are the caller's to give back
    /// (``SignInLog/restore(_:)``).
    public func writeSignIns(_ entries: [SignInLog.Entry]) async throws {
        guard !entries.isEmpty else { return }
        let pools = entries.map(\.pool.rawValue)
        let subs = entries.map(\.sub)
        try await database.primary.withConnection { connection in
            try IdentitySetWrites.recordSignIns(pools: pools, subs: subs, on: connection)
        }
    }
}

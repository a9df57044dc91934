import CryptoPrimitives
public import Foundation
public import IdentityMap
import Support

/// Checks an exported range of events offline — no database, no StableID server — against signed
/// checkpoints an auditor trusts (docs/AUDIT.md, "Checking an export offline").
///
/// Each line is read with ``ExportedEvent`` (the codec the exports write with), rebuilt into its
/// canonical bytes and hashed onto the previous hash it states (``add(line:number:)``); the
/// positions are then put in order and each stated previous hash must be the hash before it
/// (``finish()``). A run of consecutive positions that reaches a checkpoint's position and ends
/// in its signed head hash is *anchored*: changing any event in it would need a SHA-256 second
/// preimage. Positions after the newest checkpoint are linked but unsigned; an export with gaps
/// (a filtered one) proves each event matches its stated hash, and only the run that reaches a
/// checkpoint is anchored. Lines are read one at a time; memory holds 72 bytes per sealed event.
public struct ExportVerifier: Sendable {
    public enum ProblemKind: String, Sendable, Codable {
        /// The line is not an event of a chain export.
        case malformed
        /// The event's fields, texts or personal data do not hash to its stated hash, or a stated
        /// previous hash is not the hash before it.
        case modified
        /// Two lines claim one position, or one event appears twice.
        case duplicate
        /// An event exported before it was sealed: nothing binds its content, so it is refused
        /// unless allowed (`--allow-unsealed`; seal before exporting: `stableid audit seal`).
        case unsealed
        /// Events at or before a checkpoint that no unbroken run of positions links to it.
        case unanchored
        /// The checkpoint's signature is invalid or by another key, its position is not in the
        /// export, or the export's hash there is not its head.
        case checkpointMismatch = "checkpoint_mismatch"
    }

    public struct Problem: Sendable, Codable, Equatable {
        /// The line of the file (1-based), when one line is at fault.
        public var line: Int?
        public var position: Int64?
        public var kind: ProblemKind
        public var detail: String
    }

    public struct Report: Sendable, Codable {
        public var lines = 0
        public var sealed = 0
        /// Events exported before they were sealed: nothing to check them against.
        public var unsealed = 0
        public var firstPosition: Int64?
        public var lastPosition: Int64?
        /// Runs of consecutive positions (1 for an unfiltered export).
        public var segments = 0
        /// Sealed events linked to a checkpoint's signed head.
        public var anchored = 0
        /// Sealed events after the newest checkpoint: linked, not signed.
        public var beyondCheckpoints = 0
        public var checkpointsChecked = 0
        /// The first problems (at most `ExportVerifier.maxProblems`), and how many there were.
        public var problems: [Problem] = []
        public var problemCount = 0
        /// No problem found. Events after the newest checkpoint (`beyond_checkpoints`) are
        /// linked but not signed: only the anchored ones are proven.
        public var intact = true

        enum CodingKeys: String, CodingKey {
            case lines, sealed, unsealed, segments, anchored, problems, intact
            case firstPosition = "first_position"
            case lastPosition = "last_position"
            case beyondCheckpoints = "beyond_checkpoints"
            case checkpointsChecked = "checkpoints_checked"
            case problemCount = "problem_count"
        }
    }

    public static let maxProblems = 100

    /// A SHA-256 value kept inline: a million positions cost 72 MB of flat memory, not millions
    /// of small arrays.
    struct Digest: Equatable, Sendable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 32 else { return nil }
            func word(_ offset: Int) -> UInt64 { bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
            (a, b, c, d) = (word(0), word(8), word(16), word(24))
        }
    }

    struct Link: Sendable {
        var position: Int64
        var previous: Digest
        var hash: Digest
        var line: Int
    }

    public let checkpoints: [Checkpoint]
    public let trustedKey: [UInt8]?
    public let allowUnsealed: Bool
    private var links: [Link] = []
    private var report = Report()
    /// Event ids seen sealed and unsealed: one event on two lines is a forgery's tell.
    private var sealedIDs = Set<Int64>()
    private var unsealedIDs: [Int64: Int] = [:]

    public init(checkpoints: [Checkpoint], trustedKey: [UInt8]?, allowUnsealed: Bool = false) {
        self.checkpoints = checkpoints
        self.trustedKey = trustedKey
        self.allowUnsealed = allowUnsealed
    }

    /// Reads an NDJSON export a buffer at a time and checks it.
    public static func verify(
        fileAt path: String, checkpoints: [Checkpoint], trustedKey: [UInt8]?, allowUnsealed: Bool = false
    ) throws -> Report {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var verifier = ExportVerifier(checkpoints: checkpoints, trustedKey: trustedKey, allowUnsealed: allowUnsealed)
        var pending: [UInt8] = []
        var lineNumber = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending.append(contentsOf: chunk)
            var start = 0
            while let end = pending[start...].firstIndex(of: 0x0A) {
                lineNumber += 1
                verifier.add(line: pending[start..<end], number: lineNumber)
                start = end + 1
            }
            pending.removeFirst(start)
        }
        if !pending.isEmpty {
            lineNumber += 1
            verifier.add(line: pending[...], number: lineNumber)
        }
        return verifier.finish()
    }

    private mutating func record(_ problem: Problem) {
        report.problemCount += 1
        if report.problems.count < Self.maxProblems { report.problems.append(problem) }
    }
}

// MARK: one line at a time

extension ExportVerifier {
    /// The hashes a chain position states, decoded: as bytes to hash with, as digests to keep.
    struct StatedHashes {
        var previousBytes: [UInt8]
        var previous: Digest
        var hashBytes: [UInt8]
        var hash: Digest

        /// Nil when the position is not positive or a hash is not 32 bytes of hex: the line
        /// cannot be placed in a chain at all.
        init?(_ chain: ExportedEvent.Chain) {
            guard chain.seq > 0, let previousBytes = Hex.decode(chain.prevHash), let previous = Digest(previousBytes),
                let hashBytes = Hex.decode(chain.hash), let hash = Digest(hashBytes)
            else { return nil }
            self.previousBytes = previousBytes
            self.previous = previous
            self.hashBytes = hashBytes
            self.hash = hash
        }
    }

    /// Checks one line on its own and keeps its position and hashes for `finish`.
    public mutating func add(line bytes: ArraySlice<UInt8>, number: Int) {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return }
        report.lines += 1
        let decoder = JSONDecoder()
        guard let line = try? ExportedEvent(line: bytes, decoder: decoder) else {
            record(Problem(line: number, position: nil, kind: .malformed, detail: "not an exported event"))
            return
        }
        switch line.chain {
        case .notAsked:
            record(
                Problem(
                    line: number, position: nil, kind: .malformed,
                    detail: "event \(line.id) has no chain position: export with --chain (or ?chain=true)"))
        case .unsealed:
            addUnsealed(line, number: number)
        case .sealed(let chain):
            addSealed(line, chain, bytes: bytes, number: number, decoder: decoder)
        }
    }

    /// An event exported before it was sealed: nothing binds its content, so it is refused unless
    /// allowed, and then only counted. Its id is kept: the same event on another line, sealed or
    /// not, is a forgery's tell.
    private mutating func addUnsealed(_ line: ExportedEvent, number: Int) {
        report.unsealed += 1
        if let earlier = unsealedIDs[line.id] ?? (sealedIDs.contains(line.id) ? 0 : nil) {
            record(
                Problem(
                    line: number, position: nil, kind: .duplicate,
                    detail: "event \(line.id) appears twice" + (earlier > 0 ? " (line \(earlier))" : "")))
        } else if !allowUnsealed {
            record(
                Problem(
                    line: number, position: nil, kind: .unsealed,
                    detail: "event \(line.id) was not sealed when exported: nothing proves it (seal, then export again)"))
        }
        unsealedIDs[line.id] = number
    }

    /// A sealed event: once it proves to be exactly what was sealed at its stated hash, its
    /// position and hashes are kept for `finish`, which links the positions to each other.
    private mutating func addSealed(
        _ line: ExportedEvent, _ chain: ExportedEvent.Chain, bytes: ArraySlice<UInt8>, number: Int, decoder: JSONDecoder
    ) {
        report.sealed += 1
        guard sealedIDs.insert(line.id).inserted, unsealedIDs[line.id] == nil else {
            record(Problem(line: number, position: chain.seq, kind: .duplicate, detail: "event \(line.id) appears twice"))
            return
        }
        guard let stated = StatedHashes(chain) else {
            record(Problem(line: number, position: chain.seq, kind: .malformed, detail: "event \(line.id): chain fields are malformed"))
            return
        }
        if let detail = Self.modification(of: line, chain, stated: stated, bytes: bytes, decoder: decoder) {
            record(Problem(line: number, position: chain.seq, kind: .modified, detail: "event \(line.id): \(detail)"))
            return
        }
        links.append(Link(position: chain.seq, previous: stated.previous, hash: stated.hash, line: number))
    }

    /// Why a sealed line is not what was sealed at its stated hash, or nil when it is: the hash
    /// alone covers only the canonical fields and the hashed texts, so everything else a reader
    /// sees on the line must be shown to say the same.
    private static func modification(
        of line: ExportedEvent, _ chain: ExportedEvent.Chain, stated: StatedHashes, bytes: ArraySlice<UInt8>, decoder: JSONDecoder
    ) -> String? {
        var digest: [UInt8]?
        if let text = chain.personalDigest {
            guard let decoded = Hex.decode(text), decoded.count == 32 else { return "personal_digest is not a SHA-256" }
            digest = decoded
        }
        // The readable fields must say what the hashed texts say, or an edited `details` object
        // would pass next to an untouched `chain.details`.
        guard let hashedDetails = try? decoder.decode(JSONValue.self, from: Data(chain.details.utf8)), hashedDetails == line.details
        else { return "details differ from the sealed text" }
        guard let readable = RFC3339.parse(line.occurredAt), let sealedAt = RFC3339.parse(chain.occurredAt),
            abs(readable.timeIntervalSince(sealedAt)) < 0.000_001
        else { return "occurred_at differs from the sealed time" }
        if let detail = personalDifference(line.personal, chain, digest: digest, decoder: decoder) { return detail }
        guard Digest(canonical(line, chain, digest: digest).chainHash(previous: stated.previousBytes)) == stated.hash else {
            return "its fields do not hash to the stated hash"
        }
        // An absent value and "" hash alike: "" shows a reader something the hash does not cover.
        let ambiguous = CanonicalEvent.ambiguousValues(
            actor: line.actor, kind: line.kind, poolID: line.pool, sub: line.sub, requestID: line.requestID)
        guard ambiguous.isEmpty else {
            return "\(ambiguous.joined(separator: ", ")): its hash cannot tell \"\" from an absent value, and StableID never writes \"\""
        }
        guard isExportedForm(bytes, of: line, chain, stated: stated, digest: digest, sealedAt: sealedAt) else {
            return "the line is not in the exported form (a repeated or extra key, or a value spelled differently)"
        }
        return nil
    }

    /// Why the personal data shown differ from the sealed ones, or nil. The salt travels with the
    /// data it salts: an export that holds the data may hold it, and then the digest is checked
    /// too. After an erasure neither is left, and only the digest is hashed.
    private static func personalDifference(
        _ shown: JSONValue?, _ chain: ExportedEvent.Chain, digest: [UInt8]?, decoder: JSONDecoder
    ) -> String? {
        switch (shown, chain.personal) {
        case (nil, nil):
            return nil
        case (let shownPersonal?, let text?):
            guard let hashedPersonal = try? decoder.decode(JSONValue.self, from: Data(text.utf8)), hashedPersonal == shownPersonal
            else { return "personal data differ from the sealed text" }
            guard let saltText = chain.personalSalt, let salt = Hex.decode(saltText),
                CanonicalEvent.personalDigest(salt: salt, data: text) == digest
            else { return "personal data do not match the sealed digest" }
            return nil
        default:
            return "personal data differ from the sealed text"
        }
    }

    /// The canonical fields as the line states them (docs/AUDIT.md maps them): the hashed texts
    /// from `chain`, the rest from the readable keys, an absent key being the empty field.
    private static func canonical(_ line: ExportedEvent, _ chain: ExportedEvent.Chain, digest: [UInt8]?) -> CanonicalEvent {
        CanonicalEvent(
            seq: chain.seq, eventID: line.id, occurredAt: chain.occurredAt, actor: line.actor, kind: line.kind,
            userID: line.userID ?? "", poolID: line.pool ?? "", sub: line.sub ?? "", details: chain.details,
            requestID: line.requestID ?? "", personalDigest: digest
        )
    }

    /// Whether the line is exactly what an export writes for these values: a key given twice
    /// (JSON readers disagree on which one counts), an extra key or a number past Double's
    /// precision would otherwise show a reader something the hash does not cover. The values go
    /// back through an `AuditEvent`, so a time, user ID or hash spelled another way is refused too.
    private static func isExportedForm(
        _ bytes: ArraySlice<UInt8>, of line: ExportedEvent, _ chain: ExportedEvent.Chain, stated: StatedHashes, digest: [UInt8]?,
        sealedAt: Date
    ) -> Bool {
        let shown = AuditEvent(
            id: line.id, occurredAt: sealedAt, actor: line.actor, kind: line.kind, userID: line.userID.flatMap(UUID.init(uuidString:)),
            poolID: line.pool, sub: line.sub, details: line.details, personal: line.personal, requestID: line.requestID,
            chain: SealedPosition(
                seq: chain.seq, previousHash: stated.previousBytes, hash: stated.hashBytes, personalDigest: digest,
                occurredAt: chain.occurredAt, detailsText: chain.details, personalText: chain.personal,
                personalSalt: chain.personalSalt.flatMap { Hex.decode($0) })
        )
        return Array(ExportedEvent(shown, withChain: true).line.utf8.dropLast()) == Array(bytes)
    }
}

// MARK: the positions together

extension ExportVerifier {
    /// Orders the positions, checks every link between neighbours, and anchors runs to checkpoints.
    public mutating func finish() -> Report {
        dropRepeatedPositions()
        report.firstPosition = links.first?.position
        report.lastPosition = links.last?.position
        let runs = linkRuns()
        report.segments = runs.count
        let anchored = anchorToCheckpoints(runs)
        // Every checkpoint given, whether or not it checked out: positions up to it should be signed.
        let newestCheckpoint = checkpoints.reduce(Int64(0)) { max($0, $1.size) }
        report.anchored = anchored.lazy.filter { $0 }.count
        report.beyondCheckpoints = links.lazy.filter { $0.position > newestCheckpoint }.count
        if report.checkpointsChecked > 0 { recordUnanchored(anchored, through: newestCheckpoint) }
        report.intact = report.problemCount == 0
        return report
    }

    /// Sorts the kept positions. A position claimed twice is reported once and kept once, so the
    /// runs found next stay aligned with the positions.
    private mutating func dropRepeatedPositions() {
        links.sort { $0.position < $1.position }
        var unique: [Link] = []
        unique.reserveCapacity(links.count)
        for link in links {
            if let last = unique.last, last.position == link.position {
                record(
                    Problem(
                        line: link.line, position: link.position, kind: .duplicate,
                        detail: "position \(link.position) appears twice (lines \(last.line) and \(link.line))"))
                continue
            }
            unique.append(link)
        }
        links = unique
    }

    /// Runs of consecutive positions, as index ranges into `links`. Within a run each stated
    /// previous hash must be the hash before it; position 1 must start from the genesis hash. A
    /// gap only ends a run: a filtered export has gaps and still proves each of its events.
    private mutating func linkRuns() -> [Range<Int>] {
        let genesis = Digest(CanonicalEvent.genesis)!
        var runs: [Range<Int>] = []
        var runStart = 0
        for index in links.indices {
            let link = links[index]
            if index > 0, link.position == links[index - 1].position + 1 {
                if link.previous != links[index - 1].hash {
                    record(
                        Problem(
                            line: link.line, position: link.position, kind: .modified,
                            detail: "the previous hash at position \(link.position) is not the hash of position \(link.position - 1)"))
                }
            } else {
                if index > 0 { runs.append(runStart..<index) }
                runStart = index
            }
            if link.position == 1, link.previous != genesis {
                record(Problem(line: link.line, position: 1, kind: .modified, detail: "position 1 does not start from the genesis hash"))
            }
        }
        if !links.isEmpty { runs.append(runStart..<links.count) }
        return runs
    }

    /// Which positions (by index into `links`) a checkpoint proves: from the start of the run
    /// holding its position up to it — when its signature is by the trusted key and the export
    /// has its signed head hash there. Changing any event in such a run would need a SHA-256
    /// second preimage.
    private mutating func anchorToCheckpoints(_ runs: [Range<Int>]) -> [Bool] {
        var anchored = [Bool](repeating: false, count: links.count)
        for checkpoint in checkpoints {
            if let problem = checkpoint.signatureProblem(trustedKey: trustedKey) {
                record(Problem(line: nil, position: checkpoint.size, kind: .checkpointMismatch, detail: problem))
                continue
            }
            guard
                let run = runs.first(where: {
                    links[$0.lowerBound].position <= checkpoint.size && checkpoint.size <= links[$0.upperBound - 1].position
                })
            else {
                let range = report.firstPosition.map { "\($0)–\(report.lastPosition!)" } ?? "none"
                record(
                    Problem(
                        line: nil, position: checkpoint.size, kind: .checkpointMismatch,
                        detail: "the checkpoint's position \(checkpoint.size) is not in the export (positions \(range))"))
                continue
            }
            let index = run.lowerBound + Int(checkpoint.size - links[run.lowerBound].position)
            guard Hex.decode(checkpoint.headHash).flatMap(Digest.init) == links[index].hash else {
                record(
                    Problem(
                        line: links[index].line, position: checkpoint.size, kind: .checkpointMismatch,
                        detail: "position \(checkpoint.size) does not have the checkpoint's head hash: history was rewritten"))
                continue
            }
            report.checkpointsChecked += 1
            for proven in run.lowerBound..<(index + 1) { anchored[proven] = true }
        }
        return anchored
    }

    /// Every event up to the newest checkpoint must be linked to one; names each stretch that is
    /// not (a filtered export, or lines removed).
    private mutating func recordUnanchored(_ anchored: [Bool], through newestCheckpoint: Int64) {
        var index = 0
        while index < links.count, links[index].position <= newestCheckpoint {
            guard !anchored[index] else {
                index += 1
                continue
            }
            let start = index
            while index < links.count, links[index].position <= newestCheckpoint, !anchored[index] { index += 1 }
            let (first, last) = (links[start].position, links[index - 1].position)
            record(
                Problem(
                    line: links[start].line, position: first, kind: .unanchored,
                    detail:
                        "positions \(first)–\(last) are not linked to a checkpoint by consecutive positions (the export has a gap after them)"
                ))
        }
    }
}

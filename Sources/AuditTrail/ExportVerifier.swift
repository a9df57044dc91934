import CryptoPrimitives
public import Foundation
public import IdentityMap
import Support

/// The `chain` object an NDJSON export carries per event when asked (`--chain`, `?chain=true`):
/// its position and hashes, and the exact texts the canonical bytes were built from.
public enum ChainExport {
    public static func json(_ position: SealedPosition) -> JSONValue {
        [
            "seq": .number(Double(position.seq)),
            "prev_hash": .string(Hex.encode(position.previousHash)),
            "hash": .string(Hex.encode(position.hash)),
            "personal_digest": JSONValue(position.personalDigest.map { Hex.encode($0) }),
            "occurred_at": .string(position.occurredAt),
            "details": .string(position.detailsText),
            "personal": JSONValue(position.personalText),
            "personal_salt": JSONValue(position.personalSalt.map { Hex.encode($0) }),
        ]
    }
}

/// Checks an exported range of events offline — no database, no StableID server — against signed
/// checkpoints an auditor trusts (docs/AUDIT.md, "Checking an export offline").
///
/// Each line is rebuilt into its canonical bytes and hashed onto the previous hash it states; the
/// positions are then put in order and each stated previous hash must be the hash before it. A
/// run of consecutive positions that reaches a checkpoint's position and ends in its signed head
/// hash is *anchored*: changing any event in it would need a SHA-256 second preimage. Positions
/// after the newest checkpoint are linked but unsigned; an export with gaps (a filtered one)
/// proves each event matches its stated hash, and only the run that reaches a checkpoint is
/// anchored. Lines are read one at a time; memory holds 72 bytes per sealed event.
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

    /// The fields of one export line this check reads.
    struct Line: Decodable {
        var id: Int64
        var occurredAt: String
        var actor: String
        var kind: String
        var userID: String?
        var pool: String?
        var sub: String?
        var requestID: String?
        var details: JSONValue
        var personal: JSONValue?
        var hasChain: Bool
        var chain: Chain?

        struct Chain: Decodable {
            var seq: Int64
            var prevHash: String
            var hash: String
            var personalDigest: String?
            var occurredAt: String
            var details: String
            var personal: String?
            var personalSalt: String?

            enum CodingKeys: String, CodingKey {
                case seq, hash, details, personal
                case prevHash = "prev_hash"
                case personalDigest = "personal_digest"
                case occurredAt = "occurred_at"
                case personalSalt = "personal_salt"
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, actor, kind, pool, sub, details, personal, chain
            case occurredAt = "occurred_at"
            case userID = "user_id"
            case requestID = "request_id"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(Int64.self, forKey: .id)
            occurredAt = try container.decode(String.self, forKey: .occurredAt)
            actor = try container.decode(String.self, forKey: .actor)
            kind = try container.decode(String.self, forKey: .kind)
            userID = try container.decodeIfPresent(String.self, forKey: .userID)
            pool = try container.decodeIfPresent(String.self, forKey: .pool)
            sub = try container.decodeIfPresent(String.self, forKey: .sub)
            requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
            details = try container.decode(JSONValue.self, forKey: .details)
            personal = try container.decodeIfPresent(JSONValue.self, forKey: .personal)
            hasChain = container.contains(.chain)
            chain = try container.decodeIfPresent(Chain.self, forKey: .chain)
        }
    }

    /// Checks one line on its own and keeps its position and hashes for `finish`.
    public mutating func add(line bytes: ArraySlice<UInt8>, number: Int) {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return }
        report.lines += 1
        let decoder = JSONDecoder()
        guard let line = try? decoder.decode(Line.self, from: Data(bytes)) else {
            record(Problem(line: number, position: nil, kind: .malformed, detail: "not an exported event"))
            return
        }
        guard line.hasChain else {
            record(
                Problem(
                    line: number, position: nil, kind: .malformed,
                    detail: "event \(line.id) has no chain position: export with --chain (or ?chain=true)"))
            return
        }
        guard let chain = line.chain else {
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
            return
        }
        report.sealed += 1
        guard sealedIDs.insert(line.id).inserted, unsealedIDs[line.id] == nil else {
            record(Problem(line: number, position: chain.seq, kind: .duplicate, detail: "event \(line.id) appears twice"))
            return
        }
        func modified(_ detail: String) {
            record(Problem(line: number, position: chain.seq, kind: .modified, detail: "event \(line.id): \(detail)"))
        }
        guard chain.seq > 0, let previousBytes = Hex.decode(chain.prevHash), let previous = Digest(previousBytes),
            let statedBytes = Hex.decode(chain.hash), let stated = Digest(statedBytes)
        else {
            record(Problem(line: number, position: chain.seq, kind: .malformed, detail: "event \(line.id): chain fields are malformed"))
            return
        }
        var digest: [UInt8]?
        if let text = chain.personalDigest {
            guard let bytes = Hex.decode(text), bytes.count == 32 else {
                modified("personal_digest is not a SHA-256")
                return
            }
            digest = bytes
        }
        // The readable fields must say what the hashed texts say, or an edited `details` object
        // would pass next to an untouched `chain.details`.
        guard let hashedDetails = try? decoder.decode(JSONValue.self, from: Data(chain.details.utf8)), hashedDetails == line.details
        else {
            modified("details differ from the sealed text")
            return
        }
        guard let readable = RFC3339.parse(line.occurredAt), let hashed = RFC3339.parse(chain.occurredAt),
            abs(readable.timeIntervalSince(hashed)) < 0.000_001
        else {
            modified("occurred_at differs from the sealed time")
            return
        }
        switch (line.personal, chain.personal) {
        case (nil, nil):
            break
        case (let shownPersonal?, let text?):
            guard let hashedPersonal = try? decoder.decode(JSONValue.self, from: Data(text.utf8)), hashedPersonal == shownPersonal
            else {
                modified("personal data differ from the sealed text")
                return
            }
            // The salt travels with the data it salts: an export that holds the data may hold it.
            guard let saltText = chain.personalSalt, let salt = Hex.decode(saltText),
                CanonicalEvent.personalDigest(salt: salt, data: text) == digest
            else {
                modified("personal data do not match the sealed digest")
                return
            }
        default:
            modified("personal data differ from the sealed text")
            return
        }
        let event = CanonicalEvent(
            seq: chain.seq, eventID: line.id, occurredAt: chain.occurredAt, actor: line.actor, kind: line.kind,
            userID: line.userID ?? "", poolID: line.pool ?? "", sub: line.sub ?? "", details: chain.details,
            requestID: line.requestID ?? "", personalDigest: digest
        )
        guard Digest(event.chainHash(previous: previousBytes)) == stated else {
            modified("its fields do not hash to the stated hash")
            return
        }
        // An absent value and "" hash alike: "" shows a reader something the hash does not cover.
        let ambiguous = CanonicalEvent.ambiguousValues(
            actor: line.actor, kind: line.kind, poolID: line.pool, sub: line.sub, requestID: line.requestID)
        guard ambiguous.isEmpty else {
            modified("\(ambiguous.joined(separator: ", ")): its hash cannot tell \"\" from an absent value, and StableID never writes \"\"")
            return
        }
        // The line must be exactly what an export writes for these values: a key given twice
        // (JSON readers disagree on which one counts), an extra key or a number past Double's
        // precision would otherwise show a reader something the hash does not cover.
        let shown = AuditEvent(
            id: line.id, occurredAt: hashed, actor: line.actor, kind: line.kind, userID: line.userID.flatMap(UUID.init(uuidString:)),
            poolID: line.pool, sub: line.sub, details: line.details, personal: line.personal, requestID: line.requestID,
            chain: SealedPosition(
                seq: chain.seq, previousHash: previousBytes, hash: statedBytes, personalDigest: digest, occurredAt: chain.occurredAt,
                detailsText: chain.details, personalText: chain.personal, personalSalt: chain.personalSalt.flatMap { Hex.decode($0) })
        )
        guard Array(EventExportFormat.ndjson.line(shown, withChain: true).utf8.dropLast()) == Array(bytes) else {
            modified("the line is not in the exported form (a repeated or extra key, or a value spelled differently)")
            return
        }
        links.append(Link(position: chain.seq, previous: previous, hash: stated, line: number))
    }

    /// Orders the positions, checks every link between neighbours, and anchors runs to checkpoints.
    public mutating func finish() -> Report {
        links.sort { $0.position < $1.position }
        // A position claimed twice is reported once and kept once, so the runs below stay aligned.
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
        report.firstPosition = links.first?.position
        report.lastPosition = links.last?.position
        let genesis = Digest(CanonicalEvent.genesis)!
        // Runs of consecutive positions, as index ranges into `links`.
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
        report.segments = runs.count

        // Positions proven by a checkpoint: from the start of the run holding its position up to it.
        var anchoredThrough: [Range<Int>] = []
        var newestCheckpoint: Int64 = 0
        for checkpoint in checkpoints {
            newestCheckpoint = max(newestCheckpoint, checkpoint.size)
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
            anchoredThrough.append(run.lowerBound..<(index + 1))
        }
        var anchored = [Bool](repeating: false, count: links.count)
        for range in anchoredThrough { for index in range { anchored[index] = true } }
        report.anchored = anchored.lazy.filter { $0 }.count
        report.beyondCheckpoints = links.lazy.filter { $0.position > newestCheckpoint }.count
        if report.checkpointsChecked > 0 {
            // Every event up to the newest checkpoint must be linked to one; name each stretch that is not.
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
        report.intact = report.problemCount == 0
        return report
    }
}

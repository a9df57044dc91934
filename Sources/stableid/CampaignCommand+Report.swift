import ArgumentParser
import CampaignReport
import Foundation
import StableIDAPI
import UserMigration

extension CampaignCommand {
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a campaign's report page (curve, projection, findings) as one self-contained HTML file.",
            discussion: """
                The page `serve` shows at /report/campaigns/ID, loaded the same way, without the person lookup (that needs a \
                signed-in session; the file says so). It has no script and no external asset: it opens offline and prints. \
                It lists subs and stable IDs, so it is written with mode 0640, atomically (a temporary file renamed into place).
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Option(help: "Where to write the HTML file.") var html: String
        @OptionGroup var projection: ProjectionOptions

        func run() async throws {
            let (level, windowDays) = try projection.validated()
            try await database.withDatabase { db, _ in
                guard let found = try await CampaignStore(database: db).campaign(campaign) else {
                    throw CLIFailure.usage("no campaign \(campaign)")
                }
                let page = try await ReportPageLoader(database: db).page(for: found, level: level, windowDays: windowDays)
                try Self.writeAtomically(page.html(), to: html)
                print("wrote the report of campaign \(found.name) to \(html)")
            }
        }

        /// Written to a temporary file beside `path` (created 0600, set to 0640 before any byte is
        /// written, so no other user can read it meanwhile whatever the umask), synced, then renamed
        /// over `path`: a reader sees the old file or the whole new one.
        static func writeAtomically(_ text: String, to path: String) throws {
            let temporary = path + ".tmp.\(getpid())"
            unlink(temporary)
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else { throw CLIFailure.runtime("cannot create \(temporary): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            do {
                guard fchmod(descriptor, 0o640) == 0 else { throw CLIFailure.runtime("cannot set the mode of \(temporary)") }
                try handle.write(contentsOf: Data(text.utf8))
                try handle.synchronize()
                try handle.close()
                guard rename(temporary, path) == 0 else { throw CLIFailure.runtime("cannot rename \(temporary) to \(path)") }
            } catch {
                unlink(temporary)
                if let failure = error as? CLIFailure { throw failure }
                throw CLIFailure.runtime("cannot write \(path): \(error)")
            }
        }
    }
}

import ArgumentParser
import Foundation
import IdentityMap

/// `stableid`: one executable for the server, migrations and operator tasks.
@main
struct StableIDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stableid",
        abstract: "One stable user ID across AWS Cognito user pools.",
        discussion: "Exit codes: 0 success, 1 ran fine but found problems, 2 usage or configuration error, 3 runtime failure.",
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, DatabaseCommand.self, TokenCommand.self, PoolCommand.self, UserCommand.self, ImportCommand.self,
            CognitoCommand.self, AuditCommand.self, CampaignCommand.self, ReconcileCommand.self, FindingsCommand.self,
            StampCommand.self, WebhookCommand.self,
        ]
    )

    /// Maps failures onto the documented exit codes instead of argument-parser's defaults.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch is ValidationError {
            FileHandle.standardError.write(Data((fullMessage(for: CLIFailure.usage("invalid arguments")) + "\n").utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // help requested from a subcommand
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            let failure = CLIFailure(error) ?? .runtime("\(error)")
            FileHandle.standardError.write(Data("stableid: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        }
    }
}

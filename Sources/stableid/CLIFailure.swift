import ArgumentParser
import Cognito
import Foundation
import IdentityMap
import UserMigration
import Webhooks

/// A failure with the exit code the CLI contract gives it.
struct CLIFailure: Error {
    var message: String
    var exitCode: Int32

    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 2) }
    static func runtime(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 3) }

    init(message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }

    /// Domain refusals, bad input files and Cognito configuration are the caller's to fix (2); an
    /// unreachable database or Cognito, or anything else, is 3.
    init?(_ error: any Error) {
        switch error {
        case let error as CLIFailure:
            self = error
        case let error as IdentityMapError:
            self = .usage(error.description)
        case let error as MigrationError:
            self = .usage(error.description)
        case let error as WebhookError:
            self = .usage(error.description)
        case let error as StampError:
            self = .usage(error.description)
        case let error as SchemaMigrator.Failure:
            self = .usage(error.description)
        case let error as UserFileReader.Failure:
            self = .usage(error.description)
        case CognitoError.configuration(let message):
            self = .usage(message)
        case let error as CognitoError:
            self = .runtime(error.description)
        case is ValidationError, is CleanExit, is ExitCode:
            return nil
        default:
            if isDatabaseUnavailable(error) {
                self = .runtime("database unavailable: \(error)")
            } else {
                self = .runtime("\(error)")
            }
        }
    }
}

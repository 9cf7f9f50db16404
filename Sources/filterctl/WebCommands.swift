import ArgumentParser
import FilterWeb
import Foundation

struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Chores of the web console.",
        subcommands: [HashPassword.self]
    )

    struct HashPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-password",
            abstract: "Read a password from standard input and print its hash for a console password file.",
            discussion: """
                The first line of standard input is the password (without its line end), so that it \
                never appears on a command line. The output, pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64, \
                goes after "name:" in the admins or users password file. See docs/console-auth.md.
                """
        )

        @Option(name: .long, help: "PBKDF2-HMAC-SHA256 iterations (default \(PasswordHash.defaultIterations)).")
        var iterations = PasswordHash.defaultIterations

        func validate() throws {
            let allowed = PasswordHash.minimumIterations...PasswordHash.maximumIterations
            guard allowed.contains(iterations) else {
                throw ValidationError("--iterations must be in \(allowed.lowerBound)...\(allowed.upperBound)")
            }
        }

        func run() throws {
            let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            let password = String(input.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? "")
            guard !password.isEmpty else {
                FileHandle.standardError.write(Data("filterctl web hash-password: standard input holds no password\n".utf8))
                throw ExitCode.failure
            }
            print(PasswordHash(hashing: password, iterations: iterations))
        }
    }
}

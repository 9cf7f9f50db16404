import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished process printed and how it exited.
struct ProcessResult: Sendable {
    /// The executable and its arguments, for messages.
    let command: [String]
    /// The exit status, or 128 + the signal number if it was killed.
    let exitStatus: Int32
    /// Everything written to standard output.
    let standardOutput: String
    /// Everything written to standard error.
    let standardError: String

    /// Whether the process exited with status 0.
    var succeeded: Bool { exitStatus == 0 }

    /// Returns `self` if the process succeeded.
    /// - Throws: `HarnessError.Code.processFailed` with the command and its output otherwise.
    @discardableResult
    func requireSuccess() throws -> ProcessResult {
        guard succeeded else {
            throw HarnessError(
                code: .processFailed,
                message: "`\(command.joined(separator: " "))` exited with \(exitStatus)\n"
                    + "stdout:\n\(standardOutput)\nstderr:\n\(standardError)"
            )
        }
        return self
    }
}

/// A child process whose output goes to files (never a pipe that could fill up
/// and stall it). Killed when released, so a failing test leaves nothing behind.
///
/// Started with `posix_spawn` rather than `Foundation.Process`: a process spawned
/// from a test's worker thread inherits that thread's signal mask, in which SIGTERM
/// is blocked, so graceful shutdown could never be tested. Here the child starts
/// with no signal blocked and every signal at its default action.
final class RunningProcess: Sendable {
    /// The executable and its arguments, for messages.
    let command: [String]
    /// The process id.
    let processIdentifier: pid_t

    private let outputDirectory: URL
    /// The exit status once the child has been reaped; `waitpid` runs under this lock.
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - executable: A path, or a name looked up in `PATH`, `/usr/sbin` and `/sbin`.
    ///   - arguments: The arguments.
    ///   - environment: Extra environment variables, added to this process's environment.
    ///   - standardInput: Bytes to feed on standard input; `nil` gives `/dev/null`.
    /// - Throws: `HarnessError.Code.executableNotFound`, `.processFailed` if it cannot be
    ///   spawned, or whatever writing the input file throws.
    init(
        executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        standardInput: Data? = nil
    ) throws {
        let path = try ProcessRunner.resolve(executable)
        command = [path] + arguments
        outputDirectory = try Repository.makeTemporaryDirectory(prefix: "filterd-process")
        var inputPath = "/dev/null"
        if let standardInput {
            let inputURL = outputDirectory.appendingPathComponent("stdin")
            try standardInput.write(to: inputURL)
            inputPath = inputURL.path
        }

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, inputPath, O_RDONLY, 0)
        for (descriptor, name) in [(Int32(1), "stdout"), (Int32(2), "stderr")] {
            let outputPath = outputDirectory.appendingPathComponent(name).path
            posix_spawn_file_actions_addopen(&fileActions, descriptor, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var catchableSignals = sigset_t()
        sigfillset(&catchableSignals)
        sigdelset(&catchableSignals, SIGKILL)
        sigdelset(&catchableSignals, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &catchableSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var processIdentifier: pid_t = 0
        let spawned = posix_spawn(&processIdentifier, path, &fileActions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw HarnessError(
                code: .processFailed,
                message: "cannot start \(path): \(String(cString: strerror(spawned)))"
            )
        }
        self.processIdentifier = processIdentifier
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            exitStatus.withLock { status in
                var rawStatus: Int32 = 0
                if waitpid(processIdentifier, &rawStatus, 0) == processIdentifier {
                    status = Self.decode(rawStatus)
                }
            }
        }
        try? FileManager.default.removeItem(at: outputDirectory)
    }

    /// Whether the process is still running (reaps it once it has exited).
    var isRunning: Bool {
        exitStatus.withLock { status in
            guard status == nil else { return false }
            var rawStatus: Int32 = 0
            let reaped = waitpid(processIdentifier, &rawStatus, WNOHANG)
            guard reaped != 0 else { return true }
            // -1 (ECHILD): someone else reaped it; it is gone, with an unknown status.
            status = reaped == processIdentifier ? Self.decode(rawStatus) : -1
            return false
        }
    }

    /// Standard output so far.
    var standardOutput: String { read("stdout") }

    /// Standard error so far.
    var standardError: String { read("stderr") }

    /// Waits for the process to exit on its own.
    /// - Parameter timeout: How long to wait before killing it.
    /// - Returns: The result.
    /// - Throws: `HarnessError.Code.timedOut` (after killing the process) if it ran too long.
    func waitForExit(timeout: Duration) async throws -> ProcessResult {
        guard try await waitWhileRunning(timeout: timeout) else {
            _ = await stop()
            throw HarnessError(
                code: .timedOut,
                message: "`\(command.joined(separator: " "))` still running after \(timeout)\n"
                    + "stdout:\n\(standardOutput)\nstderr:\n\(standardError)"
            )
        }
        return result()
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not exited after `grace`.
    /// - Parameter grace: How long SIGTERM gets.
    /// - Returns: The result (exit status 128 + the signal number if it was signalled).
    func stop(grace: Duration = .seconds(5)) async -> ProcessResult {
        if isRunning {
            kill(processIdentifier, SIGTERM)
            let exited = (try? await waitWhileRunning(timeout: grace)) ?? false
            if !exited {
                kill(processIdentifier, SIGKILL)
                _ = try? await waitWhileRunning(timeout: .seconds(5))
            }
        }
        return result()
    }

    /// Polls, because there is no async `waitpid`; returns whether it exited in time.
    private func waitWhileRunning(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// The shell's convention: the exit code, or 128 + the signal number.
    private static func decode(_ rawStatus: Int32) -> Int32 {
        let signal = rawStatus & 0x7f
        return signal == 0 ? (rawStatus >> 8) & 0xff : 128 + signal
    }

    private func result() -> ProcessResult {
        ProcessResult(
            command: command,
            exitStatus: exitStatus.withLock { $0 } ?? -1,
            standardOutput: standardOutput,
            standardError: standardError
        )
    }

    private func read(_ name: String) -> String {
        let url = outputDirectory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs helper programs (scripts, swaks, smtp-source, python3) for the integration tests.
enum ProcessRunner {
    /// Directories searched after `PATH`: Postfix's tools live in `/usr/sbin`, which a
    /// test runner's `PATH` may lack.
    private static let extraSearchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// Runs a program to completion.
    /// - Parameters:
    ///   - executable: A path, or a name looked up in `PATH`, `/usr/sbin` and `/sbin`.
    ///   - arguments: The arguments.
    ///   - environment: Extra environment variables.
    ///   - standardInput: Bytes for standard input; `nil` gives `/dev/null`.
    ///   - timeout: How long it may run before it is killed.
    /// - Returns: The result, whatever the exit status; see `ProcessResult.requireSuccess()`.
    /// - Throws: `HarnessError` if it cannot start or runs too long.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput: Data? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> ProcessResult {
        let process = try RunningProcess(
            executable: executable,
            arguments: arguments,
            environment: environment,
            standardInput: standardInput
        )
        return try await process.waitForExit(timeout: timeout)
    }

    /// Finds an executable by name.
    /// - Parameter executable: A path (returned as is) or a bare name.
    /// - Returns: The absolute path.
    /// - Throws: `HarnessError.Code.executableNotFound`.
    static func resolve(_ executable: String) throws -> String {
        if executable.contains("/") {
            return executable
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + extraSearchPath
        for directory in directories {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw HarnessError(
            code: .executableNotFound,
            message: "\(executable) not found in \(directories); run scripts/install-deps.sh"
        )
    }
}

import ArgumentParser
import BuildInfo
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The `rootmirror` command: a thin layer that parses arguments and wires
/// the library modules together; no DNS logic lives here.
@main
struct RootMirror: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rootmirror",
        abstract: "A local mirror of the DNS root zone (RFC 8806) for dnscache and other resolvers.",
        discussion: """
            rootmirror compiles the signed root zone published by internic into data.cdb \
            (the file format of djbdns's tinydns) and answers root queries from it, so that a \
            resolver on this host never waits on, or leaks queries to, a root server.

            Typical use: `rootmirror compile root.zone.gz -o data.cdb`, then \
            `rootmirror query com NS -d data.cdb` to see what a resolver would be told.
            """,
        version: BuildInfo.description,
        subcommands: [Compile.self, Verify.self, Query.self, Serve.self, RefreshCommand.self, Check.self]
    )

    /// As ArgumentParser's, but a bad argument is one line on stderr (what
    /// cron mails and a monitoring system shows), not the usage text too.
    static func main() {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            // --help and --version are "errors" that print and exit 0.
            guard code != .success else { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad arguments"
            exit(withError: fail(message, exitCode: code.rawValue))
        }
        do {
            var command = command
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// The data.cdb that `-d` names when not given. An installed rootmirror (a
/// `bin/rootmirror` with `share/rootmirror` beside it, as the package and
/// `make install` lay it out) uses the data directory they make, so that
/// `rootmirror query com NS` works after `apt install`; one run from a
/// build tree uses data.cdb in the current directory.
let defaultDataPath: String = {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
    let executable = length > 0 ? String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    guard executable.hasSuffix("/bin/rootmirror") else { return "data.cdb" }
    let prefix = executable.dropLast("/bin/rootmirror".count)
    return access("\(prefix)/share/rootmirror", F_OK) == 0 ? "/var/lib/rootmirror/data.cdb" : "data.cdb"
}()

/// Prints one line on stderr and exits non-zero: the contract every command
/// keeps for bad input, so that cron mails exactly what went wrong.
/// Exit status 64 (EX_USAGE) marks bad arguments, 1 bad input.
func fail(_ error: any Error, exitCode: Int32 = 1) -> ExitCode {
    fail("\(error)", exitCode: exitCode)
}

func fail(_ message: String, exitCode: Int32 = 1) -> ExitCode {
    var stderr = StandardError()
    print("rootmirror: \(message)", to: &stderr)
    return ExitCode(exitCode)
}

/// One line on stderr beside a success: what went wrong that did not
/// undo what the command did.
func printWarning(_ message: String) {
    var stderr = StandardError()
    print("rootmirror: warning: \(message)", to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}

/// Runs async work to completion from a synchronous command.
///
/// The root command stays synchronous on purpose: with an async `main`,
/// Dispatch ends the process's main thread, and `serve` would then show as
/// root in `ps` after dropping privileges (the dead leader keeps its
/// credentials) and could not mask signals before runtime threads exist.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = BlockingOutcome<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { outcome.result = .success(try await body()) } catch { outcome.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.result!.get()
}

/// Where the task leaves its result for the thread waiting on the semaphore.
private final class BlockingOutcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

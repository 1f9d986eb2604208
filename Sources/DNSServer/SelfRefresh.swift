import Addressing
import CDBStore
import CNetShim
import Dispatch
import Freshness
import Logging
import Synchronization
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// `serve --refresh`: the server keeps its own data fresh by running
/// `rootmirror refresh` as a child process, with the same code, lock and
/// state file as cron's or the timer's run, and picks the new data.cdb up
/// by its rename-reload like any other.
///
/// A child, not a call: a refresh's peak memory (the whole zone parsed and
/// verified) and gpgme's engine never live in the long-running server, and
/// a refresh that fails, hangs on a source or crashes cannot take serving
/// down. It is the running binary (`/proc/self/exe`), so the refresh is
/// always the same version as the server, even after a package upgrade
/// replaced the file on disk.
///
/// When (see `RefreshSchedule`): at start when data.cdb is missing (before
/// the first load) or older than the SOA REFRESH; then every SOA REFRESH
/// (jittered) when the upstreams' serial is newer, RETRY after a failure,
/// and at least once a day.
final class SelfRefresh: Sendable {
    static let executable = "/proc/self/exe"

    private struct State {
        var stopped = false
        /// Who sent the NOTIFY not yet acted on: the next refresh runs at once.
        var notifiedBy: String?
        var child: pid_t?
        var thread: OSThread?
    }

    /// `refresh`'s arguments, after the program name.
    private let arguments: [String]
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(arguments: [String], logger: Logger) {
        self.arguments = arguments
        self.logger = logger
    }

    /// Looks at the data now and then every SOA REFRESH, on a thread of its
    /// own; the SOA check is the monitor's, so `/health` sees it too.
    func start(health: ServeHealth) {
        let thread = OSThread.start { [self] in
            var atStart = true
            while !state.withLock({ $0.stopped }) {
                var wait = 1.0
                if let zone = health.zone {
                    var failed = false
                    if let primary = state.withLock({ s in defer { s.notifiedBy = nil }; return s.notifiedBy }) {
                        let attempt = run(reason: "notify from \(primary)", serving: zone.soa.serial)
                        health.refreshed(attempt)
                        failed = !attempt.succeeded
                    } else if let reason = RefreshSchedule.reason(
                        now: Int64(time(nil)), localSerial: zone.soa.serial,
                        lastRefresh: health.report().input.lastRefresh, upstream: health.monitor.checkNow().view,
                        refreshInterval: zone.soa.refresh, atStart: atStart) {
                        let attempt = run(reason: reason, serving: zone.soa.serial)
                        health.refreshed(attempt)
                        failed = !attempt.succeeded
                    }
                    atStart = false
                    wait = RefreshSchedule.wait(refresh: zone.soa.refresh, retry: zone.soa.retry, failed: failed)
                }
                _ = wake.wait(timeout: .now() + .milliseconds(Int(wait * 1000)))
            }
        }
        state.withLock { $0.thread = thread }
    }

    /// A NOTIFY from a primary: refresh now, or right after the refresh
    /// under way (which may have started before the change).
    func notified(by primary: String) {
        state.withLock { $0.notifiedBy = primary }
        wake.signal()
    }

    /// Stops the schedule; a refresh under way is sent SIGTERM (the next
    /// run removes what it leaves) and waited for.
    func stop() {
        let (thread, child) = state.withLock { s in
            s.stopped = true
            return (s.thread, s.child)
        }
        if let child { kill(child, SIGTERM) }
        wake.signal()
        thread?.join()
    }

    /// Runs one refresh now, on the calling thread, and logs one line on how it ended.
    func run(reason: String, serving serial: UInt32?) -> RefreshAttempt {
        let started = Int64(time(nil))
        let (status, output) = spawnAndWait()
        let lines = output.split(whereSeparator: \.isNewline)
        // What came before the verdict: a source that failed before the
        // next one worked, a change of trust anchors.
        for line in lines.dropLast() { logger.notice("refresh: \(line.hasPrefix("rootmirror: ") ? line.dropFirst("rootmirror: ".count) : line)") }
        let last = lines.last.map(String.init) ?? ""
        let message = last.hasPrefix("rootmirror: ") ? String(last.dropFirst("rootmirror: ".count)) : last
        let attempt = RefreshAttempt(time: started, reason: reason, exitStatus: status, message: message)
        if attempt.succeeded {
            logger.info("refresh: \(message)", metadata: ["reason": "\(reason)"])
        } else {
            logger.error("refresh failed\(serial.map { ", still serving serial \($0)" } ?? "")",
                         metadata: ["reason": "\(reason)", "exit": "\(status)", "error": "\(message)"])
        }
        return attempt
    }

    /// `rootmirror refresh ARGUMENTS`, its stdout and stderr together in
    /// one pipe: the exit status (128 + N when killed by signal N, 127 when
    /// it could not start) and what it printed (the last 8 KiB).
    ///
    /// The child inherits nothing but the pipe: a server killed with -9
    /// must find its ports free when it is started again, not held by a
    /// refresh that may run for many minutes yet. And it does not outlive
    /// this thread, which waits for it (see `cnet_spawn_child`).
    private func spawnAndWait() -> (Int32, String) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return (127, "cannot start refresh: pipe: \(errnoDescription())") }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(ends[0]) }

        let argv = (["rootmirror", "refresh"] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let spawned = state.withLock { s -> Int32 in
            guard !s.stopped else { return ECANCELED }
            pid = cnet_spawn_child(Self.executable, argv, environ, ends[1])
            guard pid > 0 else { return errno }
            s.child = pid
            return 0
        }
        close(ends[1])
        guard spawned == 0 else { return (127, "cannot start refresh: \(errnoDescription(spawned))") }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(ends[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            output += buffer[..<n]
            if output.count > 8192 { output.removeFirst(output.count - 8192) }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        state.withLock { $0.child = nil }
        let text = String(decoding: output, as: UTF8.self)
        let signal = status & 0x7F
        return signal == 0 ? ((status >> 8) & 0xFF, text) : (128 + signal, text + "\nrefresh killed by signal \(signal)")
    }
}

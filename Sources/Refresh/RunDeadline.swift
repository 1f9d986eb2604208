import Addressing
import Dispatch
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The cap on one whole refresh (`--max-time`), over every source, retry
/// and backoff: `--timeout` bounds one download, and the default sources
/// are seventeen, so without it a run could take an hour and a half.
/// Whatever the run is waiting on then (a name lookup, a trickling server,
/// gpg), it ends: one line naming the source it was on, exit 2, its
/// workspace removed.
///
/// The install is never cut: once `commit()` has returned, the run
/// finishes (a rename or two) and the deadline does nothing.
final class RunDeadline: Sendable {
    private struct State {
        var committing = false
        var source = "the start"
    }

    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(limit: Duration, workspace: Workspace) {
        let (seconds, attoseconds) = limit.components
        let milliseconds = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        let path = workspace.path
        OSThread.detach { [self] in
            guard finished.wait(timeout: .now() + .milliseconds(milliseconds)) == .timedOut else { return }
            // Held until the exit: a run reaching its install now waits in `commit()` and goes with the process.
            state.withLock { state in
                guard !state.committing else { return }
                Workspace.removeTree(path)
                let line = Array("rootmirror: refresh gave up after --max-time \(seconds) s, on \(state.source); nothing installed\n".utf8)
                _ = write(2, line, line.count)
                _exit(RefreshError.Kind.fetch.exitCode)
            }
        }
    }

    /// What the run is on now, for the line at the deadline.
    func on(_ source: String) {
        state.withLock { $0.source = source }
    }

    /// The run installs: from here on the deadline lets it finish.
    func commit() {
        state.withLock { $0.committing = true }
    }

    /// The run is over, whichever way: the clock stops.
    func finish() {
        finished.signal()
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The write end of the self-pipe, for the C signal handler (which can
/// capture nothing). One per process: `serve` runs once.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Delivers signals to one thread as values, whatever thread the kernel
/// interrupts: the handler does the one async-signal-safe thing, writing
/// the signal number to a pipe, and `wait` reads it with a timeout.
struct SignalPipe {
    private let readEnd: Int32

    init(catching signals: [Int32]) throws(ServeError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ServeError("signal pipe: \(errnoDescription())") }
        for fd in ends {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        readEnd = ends[0]
        signalPipeWriteEnd = ends[1]
        // A mask inherited from the parent (a supervisor, a test runner's
        // Dispatch thread) may block these; threads created from here on
        // inherit this thread's mask.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }

    /// The next signal caught, or nil when none came within the timeout.
    func wait(milliseconds: Int) -> Int32? {
        var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(milliseconds)) == 1 else { return nil }
        var byte: UInt8 = 0
        return read(readEnd, &byte, 1) == 1 ? Int32(byte) : nil
    }
}

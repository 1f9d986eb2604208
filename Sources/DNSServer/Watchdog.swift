import Logging
import ServiceNotify
import Synchronization

/// A count one answering thread advances each time round its loop. The
/// padding keeps two threads' counts on different cache lines, so that
/// counting never makes the cores trade a line.
final class Pulse: Sendable {
    private let count = Atomic<UInt64>(0)
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @inline(__always)
    func beat() { count.add(1, ordering: .relaxed) }

    var value: UInt64 { count.load(ordering: .relaxed) }
}

/// systemd's watchdog, fed from the answering path: `WATCHDOG=1` goes out
/// only when every UDP worker and the TCP event loop went round their loops
/// since the last ping. A worker stuck in a query, or a TCP loop that stopped
/// running tasks, withholds the ping, and systemd restarts the service after
/// `WatchdogSec=`. Idle UDP workers still turn: their sockets time out a
/// receive at half the ping interval (`receiveTimeout`).
struct AnsweringWatchdog {
    let notifier: ServiceNotifier
    let interval: Duration
    private let pulses: [Pulse]
    private let tcp: TCPServer
    private let tcpPulse = Pulse()
    private var seen: [UInt64]
    private var due: ContinuousClock.Instant
    private var stalled = false

    /// How long an idle UDP worker may block in a receive: two turns per
    /// ping interval, so that one always falls between two checks.
    static func receiveTimeout(for interval: Duration) -> Duration { interval / 2 }

    init(notifier: ServiceNotifier, interval: Duration, udp: [Pulse], tcp: TCPServer) {
        self.notifier = notifier
        self.interval = interval
        self.tcp = tcp
        pulses = udp + [tcpPulse]
        seen = pulses.map(\.value)
        due = .now + interval
        tcp.beat(tcpPulse)
    }

    /// Called from the watching thread's loop, at least every `interval`.
    mutating func check(logger: Logger) {
        guard ContinuousClock.now >= due else { return }
        let now = pulses.map(\.value)
        let idle = zip(now, seen).filter { $0 == $1 }.count
        if idle == 0 {
            notifier.watchdog()
            if stalled { logger.notice("answering threads turning again, watchdog fed") }
            stalled = false
        } else if !stalled {
            logger.error("\(idle) answering thread(s) stopped turning: withholding systemd's watchdog ping")
            stalled = true
        }
        seen = now
        due = .now + interval
        tcp.beat(tcpPulse)
    }
}

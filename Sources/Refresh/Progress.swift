import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr, for a person watching a download.
/// Only made when stderr is a terminal and --quiet is off: under cron the
/// output is mailed, and a bar would be noise in every mail.
public final class Progress: Sendable {
    private struct Bar {
        var name = ""
        var total: Int?
        var drawnAt: ContinuousClock.Instant?
        var shown = false
    }
    private let bar = Mutex(Bar())

    /// nil unless stderr is a terminal.
    public static func onTerminal() -> Progress? {
        isatty(2) == 1 ? Progress() : nil
    }

    func start(name: String, total: Int?) {
        bar.withLock { $0 = Bar(name: name, total: total) }
    }

    func update(_ received: Int) {
        bar.withLock { bar in
            let now = ContinuousClock.now
            // Ten redraws a second are plenty, and keep a fast local
            // transfer from being slowed by the terminal.
            if let last = bar.drawnAt, now - last < .milliseconds(100), received != bar.total { return }
            bar.drawnAt = now
            bar.shown = true
            Self.draw(Self.line(name: bar.name, received: received, total: bar.total))
        }
    }

    func finish() {
        bar.withLock { bar in
            if bar.shown { Self.draw("") }
            bar.shown = false
        }
    }

    static func line(name: String, received: Int, total: Int?) -> String {
        func kib(_ n: Int) -> String {
            guard n >= 1 << 10 else { return "\(n) bytes" }
            guard n >= 1 << 20 else { return "\(n >> 10) KiB" }
            let tenths = (n * 10) >> 20
            return "\(tenths / 10).\(tenths % 10) MiB"
        }
        guard let total, total > 0 else { return "\(name) \(kib(received))" }
        let width = 30
        let filled = min(width, received * width / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "\(name) [\(bar)] \(min(100, received * 100 / total))% \(kib(received)) of \(kib(total))"
    }

    private static func draw(_ text: String) {
        // Carriage return and clear-to-end-of-line: redraw in place.
        let bytes = Array("\r\u{1B}[K\(text)".utf8)
        _ = write(2, bytes, bytes.count)
    }
}

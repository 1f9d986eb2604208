#if canImport(Glibc)
import Glibc
#endif

/// systemd's service notification protocol (sd_notify(3)), written against
/// the datagram socket directly rather than by linking libsystemd: each
/// message is one datagram of `KEY=value` lines sent to `$NOTIFY_SOCKET`
/// (a path, or `@name` for the abstract namespace).
///
/// The socket is connected when the notifier is made, so that messages
/// still arrive after `serve` confines itself with `--chroot`, where the
/// socket's path no longer exists.
public final class ServiceNotifier: Sendable {
    private let fd: Int32
    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, as
    /// sd_watchdog_enabled(3) advises; nil when systemd expects no pings.
    public let watchdogInterval: Duration?

    /// The notifier systemd asked for through the environment, or nil when
    /// `$NOTIFY_SOCKET` is unset (not started by systemd with `Type=notify`).
    public static func fromEnvironment() throws(NotifyError) -> ServiceNotifier? {
        guard let socket = environment("NOTIFY_SOCKET"), !socket.isEmpty else { return nil }
        return try ServiceNotifier(socket: socket, watchdogMicroseconds: environment("WATCHDOG_USEC"),
                                   watchdogPID: environment("WATCHDOG_PID"))
    }

    /// `watchdogPID`, when given, must be this process: the watchdog is
    /// meant for the main process only, not for one it started.
    public init(socket path: String, watchdogMicroseconds: String? = nil, watchdogPID: String? = nil) throws(NotifyError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity, bytes.first == 0 || bytes.first == UInt8(ascii: "/") else {
            throw NotifyError("NOTIFY_SOCKET=\(path): not an absolute path or @name of at most \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))

        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NotifyError("NOTIFY_SOCKET=\(path): \(String(cString: strerror(errno)))") }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw NotifyError("NOTIFY_SOCKET=\(path): \(why)")
        }
        self.fd = fd

        let forUs = watchdogPID.map { Int32($0) == getpid() } ?? true
        if forUs, let text = watchdogMicroseconds, let microseconds = Int64(text), microseconds > 0 {
            watchdogInterval = .microseconds(microseconds / 2)
        } else {
            watchdogInterval = nil
        }
    }

    deinit { close(fd) }

    /// Start-up is over: the sockets are bound and the data is loaded.
    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    /// A reload begins; `ready(status:)` ends it. MONOTONIC_USEC lets a
    /// systemd that waits for reloads (Type=notify-reload) tell this reload
    /// from an earlier one.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        send("RELOADING=1\nMONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)")
    }

    /// One line for `systemctl status`.
    public func status(_ text: String) { send("STATUS=\(text)") }

    /// The service is alive; systemd restarts it when these stop coming.
    public func watchdog() { send("WATCHDOG=1") }

    public func stopping() { send("STOPPING=1") }

    /// A lost message is not worth stopping the server for: systemd reports
    /// a missing READY=1 or watchdog ping itself.
    private func send(_ message: String) {
        var message = message
        _ = message.withUTF8 { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// `$NOTIFY_SOCKET` is set but unusable, as one line.
public struct NotifyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

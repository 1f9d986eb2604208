import CDBStore
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive flock(2) on `data.cdb.lock`, held for a whole refresh, so
/// that two overlapping runs (a slow cron job and a manual one) never fetch
/// into, clean up or install over each other. The kernel drops the lock
/// when the process dies, even by kill -9, so a crash never leaves it stuck.
///
/// The file itself stays (removing a lock file while another process opens
/// it would let two runs lock different files); it holds the holder's PID,
/// for the message a second run prints.
public final class RunLock {
    public let path: String
    private let fd: Int32

    public static func path(forData data: String) -> String { "\(data).lock" }

    /// Takes the lock or fails at once with `.busy`: a cron job that finds
    /// another run in progress has nothing to add, and must not queue up.
    public init(data: String) throws(RefreshError) {
        path = Self.path(forData: data)
        // O_CLOEXEC: gpg and other children must not inherit the lock and
        // keep it after this process is gone.
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RefreshError(.local, "\(path): cannot open lock file: \(errnoText())") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let why = errno == EWOULDBLOCK ? nil : errnoText()
            let holder = Self.holder(fd)
            close(fd)
            if let why { throw RefreshError(.local, "\(path): cannot lock: \(why)") }
            throw RefreshError(.busy, "another refresh\(holder.map { " (pid \($0))" } ?? "") holds \(path); not starting a second one")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pwrite(fd, pid, pid.count, 0) }
    }

    deinit {
        // Closing the descriptor releases the lock.
        close(fd)
    }

    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingWhitespace())
    }
}

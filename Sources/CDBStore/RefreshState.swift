import DNSWire
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// `data.cdb.state`: what the last successful refresh did, for the next run
/// (conditional GET) and for the freshness monitor (how long since a refresh
/// last succeeded). Plain `key=value` lines, `#` comments, unknown keys
/// ignored, so a shell script can `grep` it and a later version can add
/// keys. Rewritten whole, atomically (temporary file, fsync, rename), after
/// every successful run, including one that found nothing new; a failed run
/// leaves it as it was.
///
/// ```
/// last_success=1795429362       unix seconds of the last successful run
/// result=installed              installed | unchanged (same serial) | not-modified (HTTP 304)
/// serial=2023051100             the zone serial now installed
/// source=https://www.internic.net/domain/root.zone.gz
/// last_install=1795429362       unix seconds data.cdb was last replaced by refresh
/// etag="5f3-5fb5d8d1"           validators of `source`, for If-None-Match
/// last_modified=Thu, 11 May 2023 10:09:41 GMT    ... and If-Modified-Since
/// verified=openpgp,dnssec,zonemd   the proofs the installed zone passed
/// signatures_expire=1684904400  unix seconds of its earliest RRSIG expiration
/// confirmed=1795429362          unix seconds the installed serial was last
///                               shown current by a source (for a transfer from
///                               a rootmirror primary: the primary's own, RFC 7314)
/// ```
///
/// A run refused because its source had an older serial than the one
/// installed writes `result=stale source` and changes nothing else: that
/// source confirms nothing.
public struct RefreshState: Sendable, Equatable {
    public var lastSuccess: Int64?
    public var result: String?
    public var serial: UInt32?
    public var source: String?
    public var lastInstall: Int64?
    public var etag: String?
    public var lastModified: String?
    public var verified: [String]?
    public var signaturesExpire: Int64?
    public var confirmed: Int64?

    public init() {}

    public static func path(forData data: String) -> String { "\(data).state" }

    /// The state beside `data`, or an empty one when there is none yet. A
    /// damaged file is read as far as it makes sense (a number out of range
    /// is read as absent): at worst the next download is unconditional. One
    /// that is not a regular file, or cannot be read, is an error.
    public static func read(forData data: String) throws(StoreError) -> RefreshState {
        guard let bytes = try readSmallFile(path(forData: data), limit: 1 << 16, followingLinks: false) else { return RefreshState() }
        return RefreshState(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// When the data with `serial` was last shown current by a source, if
    /// this state is about that serial: a state written for another serial
    /// (a refused install, a hand-run compile since) says nothing of it.
    public func confirmation(of serial: UInt32) -> Int64? {
        guard self.serial == serial else { return nil }
        return confirmed ?? lastSuccess
    }

    public init(parsing text: String) {
        /// Unix seconds that a later subtraction from the clock cannot overflow.
        func time(_ value: String) -> Int64? { Int64(value).flatMap(UTCTime.checked) }
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals]).trimmingWhitespace()
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            switch key {
            case "last_success": lastSuccess = time(value)
            case "result": result = value
            case "serial": serial = UInt32(value)
            case "source": source = value
            case "last_install": lastInstall = time(value)
            case "etag": etag = value
            case "last_modified": lastModified = value
            // Each name trimmed, empty ones dropped: what `text` writes reads back the same.
            case "verified": verified = value.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            case "signatures_expire": signaturesExpire = time(value)
            case "confirmed": confirmed = time(value)
            default: break
            }
        }
    }

    public var text: String {
        var lines = ["# rootmirror refresh state, rewritten after each successful run (see README.md)"]
        func add(_ key: String, _ value: String?) {
            // A value can never break the line format, whatever a server sends.
            if let value { lines.append("\(key)=\(String(value.filter { $0 != "\n" && $0 != "\r" }))") }
        }
        add("last_success", lastSuccess.map(String.init))
        add("result", result)
        add("serial", serial.map(String.init))
        add("source", source)
        add("last_install", lastInstall.map(String.init))
        add("etag", etag)
        add("last_modified", lastModified)
        add("verified", verified?.joined(separator: ","))
        add("signatures_expire", signaturesExpire.map(String.init))
        add("confirmed", confirmed.map(String.init))
        return lines.joined(separator: "\n") + "\n"
    }

    /// A reader (or a crash) sees the old state or the new one, never half a file.
    public func write(forData data: String) throws(StoreError) {
        try stage(forData: data).commit()
    }

    /// Written and synced beside its place, not yet in it: refresh stages
    /// the state before it installs data.cdb, so that a state that cannot
    /// be written (a full disk, a directory in its place) fails the run
    /// before anything is installed.
    public func stage(forData data: String) throws(StoreError) -> StagedFile {
        try StagedFile(Array(text.utf8), for: Self.path(forData: data))
    }
}

/// A small file written and synced under a temporary name beside `path`
/// (`path.tmp.PID`), which `commit()` renames into place and `discard()`
/// removes. Made only when the rename can be expected to work: `path` is
/// absent or a regular file.
public struct StagedFile: Sendable {
    public let path: String
    let temporary: String

    package init(_ bytes: [UInt8], for path: String) throws(StoreError) {
        var st = stat()
        if lstat(path, &st) == 0 && st.st_mode & S_IFMT != S_IFREG {
            throw StoreError(path: path, message: "cannot write: not a regular file")
        }
        temporary = "\(path).tmp.\(getpid())"
        self.path = path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw StoreError(path: temporary, message: "cannot create: \(errnoText())") }
        let written = Glibc.write(fd, bytes, bytes.count)
        let synced = written == bytes.count && fsync(fd) == 0
        let why = written >= 0 && written < bytes.count ? "short write" : errnoText()
        let closed = close(fd) == 0
        guard synced, closed else {
            let why = synced ? errnoText() : why
            unlink(temporary)
            throw StoreError(path: path, message: "cannot write: \(why)")
        }
    }

    public func commit() throws(StoreError) {
        guard rename(temporary, path) == 0 else {
            let why = errnoText()
            unlink(temporary)
            throw StoreError(path: path, message: "cannot write: \(why)")
        }
    }

    public func discard() {
        unlink(temporary)
    }
}

/// Temporary file beside the target, fsync, rename: a small file a reader
/// (or a crash) sees whole, old or new.
package func writeAtomically(_ bytes: [UInt8], to path: String) throws(StoreError) {
    try StagedFile(bytes, for: path).commit()
}

/// The whole of a small file; nil when there is none. Opened without
/// blocking, so that a FIFO put in its place cannot hang the reader (and
/// `serve` with it), and refused unless it is a regular file; with
/// `followingLinks` false a symbolic link is refused too (the files beside
/// data.cdb are refresh's own, never links). Larger than `limit` is an
/// error: a state file or a keyring is a few KiB, anything bigger is not one.
package func readSmallFile(_ path: String, limit: Int, followingLinks: Bool = true) throws(StoreError) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (followingLinks ? 0 : O_NOFOLLOW))
    guard fd >= 0 else {
        if errno == ENOENT { return nil }
        // O_NOFOLLOW on a link fails with ELOOP, whose text names no link.
        throw StoreError(path: path, message: errno == ELOOP ? "a symbolic link, not a regular file" : "cannot open: \(errnoText())")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw StoreError(path: path, message: "cannot read: \(errnoText())") }
    guard st.st_mode & S_IFMT == S_IFREG else { throw StoreError(path: path, message: "not a regular file") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while bytes.count <= limit {
        let n = Glibc.read(fd, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw StoreError(path: path, message: "cannot read: \(errnoText())") }
        if n == 0 { return bytes }
        bytes += chunk[..<n]
    }
    throw StoreError(path: path, message: "larger than \(limit >> 10) KiB")
}

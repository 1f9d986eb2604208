import CCDB
import DNSWire
import Synchronization
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// data.cdb: the compiled zone, in tinydns-data's encoding so that Debian's
/// `tinydns` serves the same file unchanged (and `tinydns-get` inspects it).
///
/// One cdb entry per record:
/// - key: the owner name in DNS wire format, lower case (`\x03com\x00`;
///   the root is `\x00`); a key repeats for each record of that name.
/// - value: type (2 bytes, big-endian) · `=` (no client location; tinydns
///   writes `>` and a 2-byte location code for location-specific records) ·
///   TTL (4 bytes) · TTD (8 bytes, a TAI64 label; all zero means no expiry) ·
///   rdata, names in uncompressed wire format.
///
/// tinydns infers authority from this data alone: a name with an SOA is an
/// apex it answers for; a name below it with NS and no SOA is a delegation.
public enum DataStore {
    /// Bytes before the rdata in a value: type, location marker, TTL, TTD.
    static let valueHeaderSize = 2 + 1 + 4 + 8

    /// A data.cdb written and synced under its temporary name beside
    /// `path`, not yet in place: `install()` renames it over `path`,
    /// `discard()` removes it. Lets the compile pipeline write while it
    /// still checks, and install only what passed.
    public struct Staged: Sendable {
        public let path: String
        let temporary: String
        /// The journal with this version's difference added (`ZoneJournal`),
        /// staged beside it; nil when it could not be (`journalNote` says why).
        var journal: StagedFile?
        /// What went wrong with the journal, for the install's log.
        var journalNote: String?

        init(path: String, temporary: String) {
            self.path = path
            self.temporary = temporary
        }

        /// Renames data.cdb into place, then its journal. A journal that
        /// cannot follow only costs IXFR (it no longer ends at the installed
        /// serial, so no reader uses it): the returned line says so.
        @discardableResult
        public func install() throws(StoreError) -> String? {
            guard rename(temporary, path) == 0 else {
                let why = errnoText()
                unlink(temporary)
                journal?.discard()
                throw StoreError(path: path, message: "cannot install: \(why)")
            }
            syncDirectory(of: path)
            do throws(StoreError) {
                try journal?.commit()
            } catch {
                return "journal not updated, IXFR will send the whole zone: \(error)"
            }
            return journalNote
        }

        public func discard() {
            unlink(temporary)
            journal?.discard()
        }

        /// Stages the journal beside data.cdb with the difference from the
        /// data installed there (if any) to this file: done on the staging
        /// thread, while the zone is checked. The same file again (the same
        /// zone compiled again) leaves the journal as it is.
        public mutating func stageJournal() {
            if DataStore.sameContents(path, temporary) { return }
            // Nothing installed to differ from: whatever journal there was
            // ends at a version no longer known.
            var journal = ZoneJournal()
            if let (difference, zoneSize) = DataStore.difference(installed: path, staged: temporary) {
                do throws(StoreError) {
                    journal = try ZoneJournal.read(forData: path)
                } catch {
                    journalNote = "\(error); a new one is started"
                }
                journal = journal.appending(difference, zoneSize: zoneSize)
            }
            do throws(StoreError) {
                self.journal = try journal.stage(forData: path)
            } catch {
                journalNote = "journal not updated, IXFR will send the whole zone: \(error)"
            }
        }
    }

    /// Whether the cdb files at `a` and `b` hold the same bytes (false
    /// when either does not map as one).
    static func sameContents(_ a: String, _ b: String) -> Bool {
        guard let first = try? MappedCDB(path: a), let second = try? MappedCDB(path: b) else { return false }
        return first.file.count == second.file.count && memcmp(first.file.baseAddress!, second.file.baseAddress!, first.file.count) == 0
    }

    /// `records` written, synced (mode 0644) and ready to rename over
    /// `path`, so that readers see the old file or the new one, never a
    /// mix. On failure the temporary file is removed and `path` is
    /// untouched. It is written at `temporary`, by
    /// default `path.tmp.PID` beside `path` (same file system, so the
    /// rename is atomic), and removed on SIGTERM or SIGINT once
    /// `removeTemporaryOnSignals` has been called.
    public static func stage(_ records: PackedRecords, for path: String, temporary: String? = nil) throws(StoreError) -> Staged {
        let temporary = temporary ?? "\(path).tmp.\(getpid())"
        // Never freed: a signal handler may be reading it at any moment.
        signalledTemporary.store(Int(bitPattern: strdup(temporary)), ordering: .releasing)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError(path: temporary, message: "cannot create: \(errnoText())") }
        var done = false
        defer {
            if !done {
                close(fd)
                unlink(temporary)
            }
        }
        let writer = CDBFile.Writer(fd: fd)
        // Each value is assembled in one scratch buffer, big enough for any
        // rdata: a store of the header fields and one copy. The key is the
        // owner folded to lower case, once per run of its records.
        let value = UnsafeMutableRawPointer.allocate(byteCount: valueHeaderSize + 0xFFFF, alignment: 8)
        defer { value.deallocate() }
        let key = UnsafeMutablePointer<UInt8>.allocate(capacity: DNSName.maxWireLength)
        defer { key.deallocate() }
        value.storeBytes(of: UInt8(ascii: "="), toByteOffset: 2, as: UInt8.self)
        value.storeBytes(of: 0, toByteOffset: 7, as: UInt64.self)  // TTD: no expiry
        let failure = records.bytes.withUnsafeBytes { bytes in
            records.entries.withUnsafeBufferPointer { entries -> CDBWriteError? in
                var keyOwner = -1
                for entry in entries {
                    let owner = Int(entry.owner), ownerLength = Int(entry.ownerLength)
                    if owner != keyOwner {
                        for i in 0..<ownerLength { key[i] = asciiLower(bytes[owner + i]) }
                        keyOwner = owner
                    }
                    value.storeBytes(of: entry.type.rawValue.bigEndian, toByteOffset: 0, as: UInt16.self)
                    value.storeBytes(of: entry.ttl.bigEndian, toByteOffset: 3, as: UInt32.self)
                    let rdataLength = Int(entry.rdataLength)
                    (value + valueHeaderSize).copyMemory(from: bytes.baseAddress! + Int(entry.rdata), byteCount: rdataLength)
                    do throws(CDBWriteError) {
                        try writer.add(key: UnsafeRawBufferPointer(start: key, count: ownerLength),
                                       value: UnsafeRawBufferPointer(start: value, count: valueHeaderSize + rdataLength))
                    } catch {
                        return error
                    }
                }
                return nil
            }
        }
        if let failure { throw StoreError(path: temporary, message: failure.message) }
        do throws(CDBWriteError) {
            try writer.finish()
        } catch {
            throw StoreError(path: temporary, message: error.message)
        }
        guard fchmod(fd, 0o644) == 0, fsync(fd) == 0 else { throw StoreError(path: temporary, message: "sync failed: \(errnoText())") }
        guard close(fd) == 0 else {
            done = true
            unlink(temporary)
            throw StoreError(path: temporary, message: "close failed: \(errnoText())")
        }
        done = true
        return Staged(path: path, temporary: temporary)
    }

    /// Makes SIGTERM and SIGINT remove the data.cdb being staged, if any,
    /// before the process dies of the signal as it would have: a compile
    /// stopped by the operator leaves nothing behind. Unblocks the two as
    /// well (a mask is inherited through exec: a parent that blocked them
    /// would make the compile unstoppable); call it before starting threads.
    public static func removeTemporaryOnSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in [SIGTERM, SIGINT] {
            signal(number) { number in
                if let path = UnsafePointer<CChar>(bitPattern: signalledTemporary.load(ordering: .acquiring)) { unlink(path) }
                signal(number, SIG_DFL)
                raise(number)
            }
        }
    }

    /// Removes `path.tmp.PID` and `path.state.tmp.PID` files that processes
    /// killed with -9 left beside `path`; a live process's are kept.
    public static func removeStaleTemporaries(beside path: String) {
        for (file, kind, pid) in siblings(of: path) where kind == "tmp" || kind == "state.tmp" || kind == "journal.tmp" {
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { unlink(file) }
        }
    }

    /// The files beside `path` named `path.KIND.PID`, as (file, KIND, PID).
    public static func siblings(of path: String) -> [(path: String, kind: Substring, pid: Int32)] {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let dir = opendir(directory.isEmpty ? "/" : directory) else { return [] }
        defer { closedir(dir) }
        var found: [(String, Substring, Int32)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(base + "."), let last = name.split(separator: ".").last, let pid = Int32(last), pid > 0 else { continue }
            let kind = name.dropFirst(base.count + 1).dropLast(last.count + 1)
            found.append(("\(directory)/\(name)", kind, pid))
        }
        return found
    }

    /// Reads every record back, checking the cdb structure (what a lookup
    /// by tinydns relies on, not only what reading in order does) and each
    /// key and value, so that a corrupt, truncated or foreign file is
    /// refused at load rather than served.
    public static func load(path: String) throws(StoreError) -> [ResourceRecord] {
        let store = try MappedCDB(path: path)
        let entries = try store.entries()
        var records: [ResourceRecord] = []
        records.reserveCapacity(entries.count)
        var lastKey: [UInt8] = []
        var lastOwner = DNSName.root
        for entry in entries {
            let key = Array(store.key(of: entry))
            if key != lastKey {
                guard let name = try? DNSName(validatingWire: key) else {
                    throw StoreError(path: path, message: "entry at byte \(entry.position) has a key that is not a domain name")
                }
                lastKey = key
                lastOwner = name
            }
            records.append(try record(owner: lastOwner, value: Array(store.value(of: entry)), path: path, at: UInt32(entry.valueStart)))
        }
        return records
    }

    /// The SOA of the zone apex `apex` in an installed data.cdb, or nil
    /// when there is no readable file or no SOA. One hashed lookup, not a
    /// full load: `refresh` asks this on every run, before it downloads.
    public static func soa(path: String, apex: DNSName = .root) -> SOAFields? {
        apexRData(path: path, apex: apex, type: .soa).flatMap(SOAFields.init(rdata:))
    }

    /// Whether an installed data.cdb kept the zone's DNSSEC records (compile's
    /// --keep-dnssec): its apex has a DNSKEY. refresh asks, so that data
    /// compiled with other options than today's is not taken for current.
    public static func keepsDNSSEC(path: String, apex: DNSName = .root) -> Bool {
        apexRData(path: path, apex: apex, type: .dnskey) != nil
    }

    /// The rdata of the first `type` record at `apex`, by one hashed lookup.
    private static func apexRData(path: String, apex: DNSName, type: RRType) -> [UInt8]? {
        guard let store = try? MappedCDB(path: path) else { return nil }
        return store.firstValue(key: apex.lowercased().wire) { $0.count > valueHeaderSize && $0.bigEndianUInt16(at: 0) == type.rawValue }
            .map { Array($0[valueHeaderSize...]) }
    }

    static func record(owner: DNSName, value: [UInt8], path: String, at offset: UInt32) throws(StoreError) -> ResourceRecord {
        guard value.count >= valueHeaderSize, value[2] == UInt8(ascii: "=") else {
            throw StoreError(path: path, message: "record for \(owner) at byte \(offset) is malformed or location-specific")
        }
        guard value[7..<15].allSatisfy({ $0 == 0 }) else {
            throw StoreError(path: path, message: "record for \(owner) at byte \(offset) is time-dependent (TTD set)")
        }
        let type = RRType(value.bigEndianUInt16(at: 0))
        let ttl = value.bigEndianUInt32(at: 3)
        let rdata = Array(value[valueHeaderSize...])
        guard RDataNames.isWellFormed(type: type, rdata: rdata) else {
            throw StoreError(path: path, message: "\(type) record for \(owner) at byte \(offset) has malformed rdata")
        }
        return ResourceRecord(owner: owner, type: type, ttl: ttl, rdata: rdata)
    }

    /// Makes the rename itself durable across a crash.
    private static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// The file `DataStore.stage` is writing (a C string's address, 0 for
/// none), for the signal handler of `DataStore.removeTemporaryOnSignals`.
private let signalledTemporary = Atomic<Int>(0)

import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// `DATA.journal`: the differences between the last versions installed at
/// DATA, oldest first, each starting where the one before ended, so that
/// `serve` can answer IXFR (RFC 1995) from them, even after a restart.
///
/// Bounded (`maximumVersions`, and no larger than the zone it leads to:
/// past that, sending the whole zone is cheaper). Written atomically
/// beside data.cdb by whatever installs a new version. A journal that does
/// not read, or does not end at the installed serial, is only a lost
/// chance of IXFR: its readers ignore it (with one log line), never fail.
///
/// The file: a magic line, the count of differences, then each as its
/// deleted and added counts and its records (old SOA, deleted, new SOA,
/// added) in uncompressed wire format with a one-byte owner length, and
/// last an FNV-1a checksum of all before it: damage (a torn copy, a bit
/// flip) is caught before a secondary gets a wrong difference.
public struct ZoneJournal: Hashable, Sendable {
    public static let maximumVersions = 30
    static let magic = Array("rootmirror journal 1\n".utf8)

    public private(set) var differences: [ZoneDifference] = []

    public init(_ differences: [ZoneDifference] = []) {
        self.differences = differences
    }

    public static func path(forData data: String) -> String { data + ".journal" }

    /// The serial the last difference leads to.
    public var lastSerial: UInt32? { differences.last?.toSerial }

    /// The journal after installing a zone whose difference from the one
    /// installed is `difference`: appended when it continues the chain,
    /// else the start of a new one; then trimmed, oldest first, to
    /// `maximumVersions` and to `zoneSize` bytes. A new version with the
    /// same serial (a forced reinstall) breaks the chain: a secondary that
    /// holds that serial may hold either content.
    public func appending(_ difference: ZoneDifference, zoneSize: Int) -> ZoneJournal {
        guard difference.fromSerial != difference.toSerial else {
            return difference.deleted.isEmpty && difference.added.isEmpty ? self : ZoneJournal()
        }
        var kept = lastSerial == difference.fromSerial ? differences : []
        kept.append(difference)
        var size = kept.reduce(0) { $0 + $1.wireSize }
        while !kept.isEmpty && (kept.count > Self.maximumVersions || size > zoneSize) {
            size -= kept.removeFirst().wireSize
        }
        return ZoneJournal(kept)
    }

    /// The differences from `serial` to the last, when the journal holds
    /// that serial; nil otherwise.
    public func differences(from serial: UInt32) -> ArraySlice<ZoneDifference>? {
        differences.firstIndex { $0.fromSerial == serial }.map { differences[$0...] }
    }

    public func encoded() -> [UInt8] {
        var writer = MessageWriter()
        for byte in Self.magic { writer.u8(byte) }
        writer.u32(UInt32(differences.count))
        for difference in differences {
            writer.u32(UInt32(difference.deleted.count))
            writer.u32(UInt32(difference.added.count))
            for record in [difference.from] + difference.deleted + [difference.to] + difference.added {
                writer.u8(UInt8(record.owner.wire.count))
                for byte in record.owner.wire { writer.u8(byte) }
                writer.u16(record.type.rawValue)
                writer.u16(record.rclass.rawValue)
                writer.u32(record.ttl)
                writer.u16(UInt16(record.rdata.count))
                for byte in record.rdata { writer.u8(byte) }
            }
        }
        var bytes = writer.bytes
        let sum = Self.checksum(bytes[...])
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: sum >> UInt64(shift))) }
        return bytes
    }

    /// Reads `bytes` (the file `path`); throws one line naming the file
    /// and what is wrong with it.
    public init(decoding bytes: [UInt8], path: String) throws(StoreError) {
        func damaged(_ why: String) -> StoreError { StoreError(path: path, message: "not a usable journal: \(why)") }
        guard bytes.count >= Self.magic.count + 4 + 8, bytes.starts(with: Self.magic) else { throw damaged("no journal header") }
        let body = bytes[..<(bytes.count - 8)]
        let stored = bytes.bigEndianUInt64(at: bytes.count - 8)
        guard Self.checksum(body) == stored else { throw damaged("checksum mismatch (damaged or cut short)") }
        var reader = JournalReader(bytes: body, at: Self.magic.count)
        var differences: [ZoneDifference] = []
        guard let count = reader.u32() else { throw damaged("cut short") }
        for index in 0..<Int(count) {
            guard let deleted = reader.u32(), let added = reader.u32(),
                  // Each record takes at least 12 bytes: no count may claim more than the file holds.
                  (Int(deleted) + Int(added) + 2) * 12 <= body.count - reader.offset,
                  let from = reader.record(), let removed = reader.records(Int(deleted)),
                  let to = reader.record(), let inserted = reader.records(Int(added)) else {
                throw damaged("difference \(index + 1) is malformed")
            }
            let difference = ZoneDifference(from: from, to: to, deleted: removed, added: inserted)
            guard from.type == .soa, to.type == .soa, SOAFields(rdata: from.rdata) != nil, SOAFields(rdata: to.rdata) != nil else {
                throw damaged("difference \(index + 1) does not start and end with an SOA")
            }
            if let last = differences.last, last.toSerial != difference.fromSerial {
                throw damaged("difference \(index + 1) starts at serial \(difference.fromSerial), not \(last.toSerial)")
            }
            differences.append(difference)
        }
        guard reader.offset == body.count else { throw damaged("\(body.count - reader.offset) bytes after the last difference") }
        self.differences = differences
    }

    /// The journal beside `data`: empty when there is none; throws when
    /// there is one that does not read (the caller logs it and goes on
    /// without it).
    public static func read(forData data: String) throws(StoreError) -> ZoneJournal {
        let path = path(forData: data)
        // The zone's own size bounds a journal; the root's is under 4 MiB.
        guard let bytes = try readSmallFile(path, limit: 64 << 20, followingLinks: false) else { return ZoneJournal() }
        return try ZoneJournal(decoding: bytes, path: path)
    }

    public func stage(forData data: String) throws(StoreError) -> StagedFile {
        try StagedFile(encoded(), for: Self.path(forData: data))
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

/// Bounds-checked reads from a journal's bytes: every read that would
/// pass the end returns nil.
private struct JournalReader {
    let bytes: ArraySlice<UInt8>
    var offset: Int

    init(bytes: ArraySlice<UInt8>, at offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, offset + count <= bytes.endIndex else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u16() -> UInt16? { take(2).map { $0.bigEndianUInt16(at: $0.startIndex) } }
    mutating func u32() -> UInt32? { take(4).map { $0.bigEndianUInt32(at: $0.startIndex) } }

    mutating func record() -> ResourceRecord? {
        guard let ownerLength = take(1)?.first, let owner = take(Int(ownerLength)),
              let name = try? DNSName(validatingWire: Array(owner)),
              let type = u16(), let rclass = u16(), let ttl = u32(), let length = u16(), let rdata = take(Int(length)),
              RDataNames.isWellFormed(type: RRType(type), rdata: Array(rdata)) else { return nil }
        return ResourceRecord(owner: name, type: RRType(type), rclass: RRClass(rclass), ttl: ttl, rdata: Array(rdata))
    }

    mutating func records(_ count: Int) -> [ResourceRecord]? {
        var records: [ResourceRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            guard let record = record() else { return nil }
            records.append(record)
        }
        return records
    }
}

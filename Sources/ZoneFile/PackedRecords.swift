import DNSWire

/// A zone's records as the compile pipeline holds them: every owner name and
/// rdata back to back in one byte buffer, and one fixed-size entry per
/// record pointing into it.
///
/// The parser appends here, the checker and the data.cdb writer read from
/// here, two threads at once. A record as a `ResourceRecord` would cost two
/// heap objects and a reference count touched by every reader (the checker
/// and the writer then fight over those counts' cache lines); here the whole
/// zone is two allocations of plain bytes, walked through pointers, and
/// freed as two. Records of one owner share its bytes: the parser stores a
/// name once per run of records.
///
/// As a collection it yields `ResourceRecord`s, each built on access: for
/// tests, tools and error messages, not for a loop over the zone.
public struct PackedRecords: Sendable, RandomAccessCollection {
    public struct Entry: Sendable {
        /// The owner name's wire form: `bytes[owner..<owner + ownerLength]`.
        public var owner: UInt32
        public var rdata: UInt32
        public var ttl: UInt32
        /// The master-file line the record started on (0 when built by hand).
        public var line: UInt32
        public var rdataLength: UInt16
        public var type: RRType
        public var rclass: RRClass
        public var ownerLength: UInt8
    }

    /// Owner names and rdata; the parser's rdata reader appends here.
    public internal(set) var bytes: [UInt8] = []
    public private(set) var entries: [Entry] = []

    public init() {}

    /// Records built elsewhere (tests, tools); consecutive records with
    /// equal owners share the owner's bytes, as the parser's do.
    public init(_ records: [ResourceRecord]) {
        var ownerAt = 0
        for (index, record) in records.enumerated() {
            if index == 0 || record.owner != records[index - 1].owner {
                ownerAt = bytes.count
                bytes.append(contentsOf: record.owner.wire)
            }
            let rdataAt = bytes.count
            bytes.append(contentsOf: record.rdata)
            append(owner: ownerAt, ownerLength: record.owner.wire.count, rdata: rdataAt, type: record.type,
                   rclass: record.rclass, ttl: record.ttl, line: 0)
        }
    }

    /// Reserves room for what a master file of `size` bytes may hold, so
    /// that the two buffers are allocated once rather than grown by copies.
    /// Generous on purpose: pages never written cost nothing. The root
    /// zone's 2.3 MB hold 19,000 kept records in 340 KB of names and rdata.
    mutating func reserveCapacity(forText size: Int) {
        entries.reserveCapacity(size / 64)
        bytes.reserveCapacity(size / 4)
    }

    /// Adds the record whose rdata is everything after `rdata` in `bytes`.
    mutating func append(owner: Int, ownerLength: Int, rdata: Int, type: RRType, rclass: RRClass, ttl: UInt32, line: Int) {
        entries.append(Entry(owner: UInt32(owner), rdata: UInt32(rdata), ttl: ttl, line: UInt32(line),
                             rdataLength: UInt16(bytes.count - rdata), type: type, rclass: rclass,
                             ownerLength: UInt8(ownerLength)))
    }

    mutating func removeDNSSEC() {
        entries.removeAll { $0.type.isDNSSEC }
    }

    // MARK: Collection

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }

    public subscript(index: Int) -> ResourceRecord {
        let entry = entries[index]
        return ResourceRecord(owner: owner(of: entry), type: entry.type, rclass: entry.rclass, ttl: entry.ttl,
                              rdata: Array(bytes[Int(entry.rdata)..<Int(entry.rdata) + Int(entry.rdataLength)]))
    }

    public func owner(of entry: Entry) -> DNSName {
        DNSName(uncheckedWire: Array(bytes[Int(entry.owner)..<Int(entry.owner) + Int(entry.ownerLength)]))
    }
}

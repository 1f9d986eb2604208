/// What changed from one zone version to the next, as IXFR carries it
/// (RFC 1995 §4): the old SOA, the records deleted, the new SOA, the
/// records added. The SOAs are not among the deleted and added records.
public struct ZoneDifference: Hashable, Sendable {
    public var from: ResourceRecord
    public var to: ResourceRecord
    public var deleted: [ResourceRecord]
    public var added: [ResourceRecord]

    public init(from: ResourceRecord, to: ResourceRecord, deleted: [ResourceRecord], added: [ResourceRecord]) {
        self.from = from
        self.to = to
        self.deleted = deleted
        self.added = added
    }

    public var fromSerial: UInt32 { SOAFields(rdata: from.rdata)?.serial ?? 0 }
    public var toSerial: UInt32 { SOAFields(rdata: to.rdata)?.serial ?? 0 }

    /// Bytes the difference takes uncompressed on the wire: what bounds the
    /// journal and decides whether IXFR beats sending the whole zone.
    public var wireSize: Int {
        ([from, to] + deleted + added).reduce(0) { $0 + $1.wireSize }
    }

    /// The difference between two versions of a zone (whole record lists,
    /// each with one SOA at `apex`); nil when either has no SOA there.
    /// Owners are compared in lower case, as data.cdb keeps them; a TTL
    /// change is a deletion and an addition, as IXFR has no other way to
    /// say it.
    public init?(old: [ResourceRecord], new: [ResourceRecord], apex: DNSName = .root) {
        let apex = apex.lowercased()
        func normalized(_ records: [ResourceRecord]) -> (soa: ResourceRecord?, rest: [ResourceRecord]) {
            var soa: ResourceRecord?
            var rest: [ResourceRecord] = []
            rest.reserveCapacity(records.count)
            for var record in records {
                record.owner = record.owner.lowercased()
                if record.type == .soa && record.owner == apex { soa = record } else { rest.append(record) }
            }
            return (soa, rest)
        }
        let (oldSOA, oldRest) = normalized(old)
        let (newSOA, newRest) = normalized(new)
        guard let oldSOA, let newSOA else { return nil }
        let oldSet = Set(oldRest), newSet = Set(newRest)
        self.init(from: oldSOA, to: newSOA, deleted: oldRest.filter { !newSet.contains($0) },
                  added: newRest.filter { !oldSet.contains($0) })
    }
}

extension ResourceRecord {
    /// Uncompressed wire size: owner, type, class, TTL, length, rdata.
    public var wireSize: Int { owner.wire.count + 10 + rdata.count }
}

import DNSWire

/// An IXFR reply read record by record (RFC 1995 §4): the new SOA, then
/// either the differences (each an old SOA, the records deleted, a new
/// SOA, the records added) or, from a primary that sends the whole zone
/// instead, every record; the new SOA again ends it.
public struct IncrementalReader: Sendable {
    public let queryID: UInt16
    /// The serial the request said is installed.
    public let installed: UInt32
    public private(set) var newSerial: UInt32?
    public private(set) var isComplete = false
    public private(set) var isWholeZone = false
    public private(set) var differences: [ZoneDifference] = []
    private var wholeZone: [ResourceRecord] = []
    private var opening: ResourceRecord?
    private var current: ZoneDifference?
    /// In a difference: past its new SOA, reading what it adds.
    private var adding = false
    private var count = 0

    public init(queryID: UInt16, installed: UInt32) {
        self.queryID = queryID
        self.installed = installed
    }

    public mutating func read(_ bytes: [UInt8]) throws(TransferError) {
        guard let message = try? Message(parsing: bytes), message.header.id == queryID, message.header.isResponse else {
            throw TransferError("a malformed message after \(count) records")
        }
        guard message.rcode == .noError else { throw TransferError("IXFR answered \(message.rcode)") }
        for var record in message.answers where !isComplete {
            record.owner = record.owner.lowercased()
            try read(record)
            count += 1
        }
    }

    private mutating func read(_ record: ResourceRecord) throws(TransferError) {
        let serial = record.type == .soa ? SOAFields(rdata: record.rdata)?.serial : nil
        guard let opening else {
            guard let serial else { throw TransferError("the reply does not start with the SOA") }
            self.opening = record
            newSerial = serial
            return
        }
        if count == 1 {
            // RFC 1995 §4: a second SOA starts the differences; anything else is the zone in AXFR form.
            if serial == installed {
                current = ZoneDifference(from: record, to: record, deleted: [], added: [])
            } else if record.type == .soa {
                // The new SOA alone again: the client is current; or a reply we cannot read.
                throw TransferError(serial == newSerial ? "the primary says serial \(installed) is current" : "the difference does not start at serial \(installed)")
            } else {
                isWholeZone = true
                wholeZone = [opening, record]
            }
            return
        }
        if isWholeZone {
            if record.type == .soa {
                guard record.rdata == opening.rdata else { throw TransferError("the closing SOA differs from the opening one") }
                isComplete = true
            } else {
                wholeZone.append(record)
            }
            return
        }
        guard var difference = current else { throw TransferError("a record after the end of the differences") }
        guard record.type == .soa else {
            if adding { difference.added.append(record) } else { difference.deleted.append(record) }
            current = difference
            return
        }
        if !adding {
            difference.to = record
            adding = true
            current = difference
            return
        }
        differences.append(difference)
        guard serial != newSerial || difference.toSerial != newSerial else {
            guard record.rdata == opening.rdata else { throw TransferError("the closing SOA differs from the opening one") }
            isComplete = true
            return
        }
        guard serial == difference.toSerial else {
            throw TransferError("a difference starts at serial \(serial ?? 0), where the one before ended at \(difference.toSerial)")
        }
        current = ZoneDifference(from: record, to: record, deleted: [], added: [])
        adding = false
    }

    /// The zone the reply describes: the whole zone it carried, or
    /// `installed` with the differences applied in order (records keep
    /// their places; added ones follow). A deletion of a record that is
    /// not there means the two sides disagree on the zone.
    public func zone(from installed: [ResourceRecord]) throws(TransferError) -> [ResourceRecord] {
        if isWholeZone { return wholeZone }
        var records = installed.map { record in
            var record = record
            record.owner = record.owner.lowercased()
            return record
        }
        for difference in differences {
            guard let soa = records.firstIndex(where: { $0.type == .soa }), records[soa] == difference.from else {
                throw TransferError("the installed SOA is not serial \(difference.fromSerial)'s")
            }
            records[soa] = difference.to
            var deleting = Set(difference.deleted)
            guard deleting.count == difference.deleted.count else { throw TransferError("serial \(difference.toSerial) deletes a record twice") }
            records.removeAll { deleting.remove($0) != nil }
            if let missing = deleting.first {
                throw TransferError("serial \(difference.toSerial) deletes \(missing.owner) \(missing.type), which is not installed")
            }
            records += difference.added
        }
        return records
    }
}

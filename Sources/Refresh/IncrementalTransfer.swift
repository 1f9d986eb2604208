import Addressing
import CDBStore
import DNSWire
import TSIG
import ZoneFile

/// `refresh --url axfr://HOST` when the installed data holds the whole
/// zone (`--keep-dnssec`): IXFR (RFC 1995) from the installed serial, the
/// differences applied to the installed records, and the result handed to
/// the same parse, DNSSEC and ZONEMD verification as a whole transfer, so
/// that a wrong difference can never be installed, only refused. Anything
/// unexpected (a difference that does not apply, a malformed reply) makes
/// the caller fall back to AXFR.
struct IncrementalTransfer {
    /// The zone after the transfer, as master-file text.
    let text: ZoneText
    /// How the primary answered: the differences, or the whole zone.
    let incremental: Bool
    let bytes: Int
    let differences: Int
    let expireSeconds: UInt32?

    /// Why IXFR could not be used; the caller logs it and transfers the whole zone.
    struct Doubt: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Asks `server` for the differences from `installed` (the records of
    /// the data installed now, its SOA among them) up to `serial`.
    static func fetch(from server: IPEndpoint, key: TSIGKey?, installed: [ResourceRecord], serial: UInt32, maximumSize: Int,
                      deadline: Int) throws(Doubt) -> IncrementalTransfer {
        guard let soa = installed.first(where: { $0.type == .soa && $0.owner == .root }) else { throw Doubt("no SOA installed") }
        var query = Message.query(id: UInt16.random(in: 0...UInt16.max), question: Question(name: .root, type: .ixfr),
                                  edns: EDNSOption.askingExpire)
        query.authority = [soa]
        var reader = IncrementalReader(queryID: query.header.id, installed: SOAFields(rdata: soa.rdata)?.serial ?? 0)
        var received = 0
        var expire: UInt32?
        var problem: Doubt?
        var signing = TransferSigning(key: key)
        let request = signing.sign(query.encoded())
        let result = DNSExchange.overTCP(request, to: server, deadline: deadline, maximumBytes: maximumSize + 2 * 65536 + 2) { signed in
            let message: [UInt8]
            do throws(TSIGFailure) {
                message = try signing.verify(signed)
            } catch {
                problem = Doubt("\(error)")
                return false
            }
            if received == 0 { expire = EDNSOption.expireSeconds(inReply: message) }
            received += 2 + message.count
            guard received <= maximumSize else {
                problem = Doubt("the reply is over the --max-size cap")
                return false
            }
            do throws(Doubt) {
                try reader.read(message)
            } catch {
                problem = error
                return false
            }
            return !reader.isComplete
        }
        if let problem { throw problem }
        if case .failure(let failure) = result { throw Doubt("\(failure)") }
        guard reader.isComplete else { throw Doubt("the reply ended early") }
        do throws(TSIGFailure) {
            try signing.finish()
        } catch {
            throw Doubt("\(error)")
        }
        guard reader.newSerial == serial else { throw Doubt("the reply leads to serial \(reader.newSerial ?? 0), not \(serial)") }
        let records = try reader.zone(from: installed)
        var lines: [UInt8] = []
        lines.reserveCapacity(records.count * 96)
        for record in records { lines += TransferReader.line(for: record) }
        return IncrementalTransfer(text: ZoneText(bytes: lines, path: "ixfr://\(server)"), incremental: !reader.isWholeZone,
                                   bytes: received, differences: reader.differences.count, expireSeconds: expire)
    }
}

/// An IXFR reply read record by record (RFC 1995 §4): the new SOA, then
/// either the differences (each an old SOA, the records deleted, a new
/// SOA, the records added) or, from a primary that sends the whole zone
/// instead, every record; the new SOA again ends it.
struct IncrementalReader {
    let queryID: UInt16
    /// The serial the request said is installed.
    let installed: UInt32
    private(set) var newSerial: UInt32?
    private(set) var isComplete = false
    private(set) var isWholeZone = false
    private(set) var differences: [ZoneDifference] = []
    private var wholeZone: [ResourceRecord] = []
    private var opening: ResourceRecord?
    private var current: ZoneDifference?
    /// In a difference: past its new SOA, reading what it adds.
    private var adding = false
    private var count = 0

    init(queryID: UInt16, installed: UInt32) {
        self.queryID = queryID
        self.installed = installed
    }

    mutating func read(_ bytes: [UInt8]) throws(IncrementalTransfer.Doubt) {
        guard let message = try? Message(parsing: bytes), message.header.id == queryID, message.header.isResponse else {
            throw .init("a malformed message after \(count) records")
        }
        guard message.rcode == .noError else { throw .init("IXFR answered \(message.rcode)") }
        for var record in message.answers where !isComplete {
            record.owner = record.owner.lowercased()
            try read(record)
            count += 1
        }
    }

    private mutating func read(_ record: ResourceRecord) throws(IncrementalTransfer.Doubt) {
        let serial = record.type == .soa ? SOAFields(rdata: record.rdata)?.serial : nil
        guard let opening else {
            guard let serial else { throw .init("the reply does not start with the SOA") }
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
                throw .init(serial == newSerial ? "the primary says serial \(installed) is current" : "the difference does not start at serial \(installed)")
            } else {
                isWholeZone = true
                wholeZone = [opening, record]
            }
            return
        }
        if isWholeZone {
            if record.type == .soa {
                guard record.rdata == opening.rdata else { throw .init("the closing SOA differs from the opening one") }
                isComplete = true
            } else {
                wholeZone.append(record)
            }
            return
        }
        guard var difference = current else { throw .init("a record after the end of the differences") }
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
            guard record.rdata == opening.rdata else { throw .init("the closing SOA differs from the opening one") }
            isComplete = true
            return
        }
        guard serial == difference.toSerial else {
            throw .init("a difference starts at serial \(serial ?? 0), where the one before ended at \(difference.toSerial)")
        }
        current = ZoneDifference(from: record, to: record, deleted: [], added: [])
        adding = false
    }

    /// The zone the reply describes: the whole zone it carried, or
    /// `installed` with the differences applied in order (records keep
    /// their places; added ones follow). A deletion of a record that is
    /// not there means the two sides disagree on the zone.
    func zone(from installed: [ResourceRecord]) throws(IncrementalTransfer.Doubt) -> [ResourceRecord] {
        if isWholeZone { return wholeZone }
        var records = installed.map { record in
            var record = record
            record.owner = record.owner.lowercased()
            return record
        }
        for difference in differences {
            guard let soa = records.firstIndex(where: { $0.type == .soa }), records[soa] == difference.from else {
                throw .init("the installed SOA is not serial \(difference.fromSerial)'s")
            }
            records[soa] = difference.to
            var deleting = Set(difference.deleted)
            guard deleting.count == difference.deleted.count else { throw .init("serial \(difference.toSerial) deletes a record twice") }
            records.removeAll { deleting.remove($0) != nil }
            if let missing = deleting.first {
                throw .init("serial \(difference.toSerial) deletes \(missing.owner) \(missing.type), which is not installed")
            }
            records += difference.added
        }
        return records
    }
}

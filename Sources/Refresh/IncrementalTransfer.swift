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
            do throws(TransferError) {
                try reader.read(message)
            } catch {
                problem = Doubt(error.description)
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
        let records: [ResourceRecord]
        do throws(TransferError) {
            records = try reader.zone(from: installed)
        } catch {
            throw Doubt(error.description)
        }
        var lines: [UInt8] = []
        lines.reserveCapacity(records.count * 96)
        for record in records { lines += TransferReader.line(for: record) }
        return IncrementalTransfer(text: ZoneText(bytes: lines, path: "ixfr://\(server)"), incremental: !reader.isWholeZone,
                                   bytes: received, differences: reader.differences.count, expireSeconds: expire)
    }
}

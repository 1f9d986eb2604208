import Addressing
import DNSWire
import FoundationEssentials
import Synchronization
import TSIG
import ZoneFile

/// `refresh --url axfr://HOST[:PORT]`: the zone by AXFR over TCP (RFC
/// 5936), from a root server that allows it or from a fleet's own primary.
/// A transfer carries no OpenPGP signature: the zone's DNSSEC chain and
/// ZONEMD digest are what make it trustworthy, so both are required of it.
enum TransferSource {
    /// The serial `server` serves, asked over TCP (the transfer will use
    /// it too), and the seconds its data may still be served when it says
    /// (RFC 7314's EXPIRE: a rootmirror primary does).
    static func serial(of server: IPEndpoint, key: TSIGKey?, deadline: Int) throws(RefreshError) -> (serial: UInt32, expireSeconds: UInt32?) {
        let query = Message.query(id: UInt16.random(in: 0...UInt16.max), question: Question(name: .root, type: .soa),
                                  edns: EDNSOption.askingExpire)
        var signing = TransferSigning(key: key)
        var reply: [UInt8]
        switch DNSExchange.overTCP(signing.sign(query.encoded()), to: server, deadline: deadline) {
        case .success(let bytes): reply = bytes
        case .failure(let failure): throw RefreshError(.fetch, "axfr://\(server): SOA query: \(failure)")
        }
        do throws(TSIGFailure) {
            reply = try signing.verify(reply)
        } catch {
            throw RefreshError(.fetch, "axfr://\(server): SOA reply: \(error)")
        }
        guard let message = try? Message(parsing: reply), message.header.id == query.header.id,
              let soa = message.answers.first(where: { $0.type == .soa && $0.owner == .root }),
              let fields = SOAFields(rdata: soa.rdata) else {
            throw RefreshError(.fetch, "axfr://\(server): no SOA for . in the reply")
        }
        return (fields.serial, EDNSOption.expireSeconds(inReply: reply))
    }
}

/// One zone transfer, read on a thread of its own into text while the
/// parser reads what has arrived (the same parse, verify and stage as for a
/// file, see `TransferReader`): the transfer and the parse overlap, and no
/// message outlives its records' text.
final class TransferStream: Sendable {
    /// The text a transfer's bytes become is held to this many times the
    /// cap on the bytes (the root's is about 2.2 times: its signatures in
    /// hex): past it, a stream of tiny records with long names is over
    /// the cap as well.
    static let textPerWireByte = 4

    let text: ZoneText
    private let problem = Mutex<RefreshError?>(nil)
    private let expire = Mutex<UInt32?>(nil)
    private let received = Mutex(0)

    /// Bytes received on the wire so far, length prefixes included.
    var bytes: Int { received.withLock { $0 } }

    /// The EXPIRE the primary put in its first message, once it came.
    var expireSeconds: UInt32? { expire.withLock { $0 } }

    /// What went wrong with the transfer itself (refused, cut short, over
    /// the cap or the deadline: a fetch failure, whatever the parser made
    /// of the text that did arrive), or with what it carried (its closing
    /// SOA not the opening one: bad data).
    var failure: RefreshError? { problem.withLock { $0 } }

    /// Starts the transfer of `.` from `server`: at most `maximumSize`
    /// bytes on the wire (`--max-size`, as for a download), done by `deadline`.
    init(from server: IPEndpoint, key: TSIGKey?, maximumSize: Int, deadline: Int) {
        let name = "axfr://\(server)"
        text = ZoneText(streaming: name, maximumSize: maximumSize * Self.textPerWireByte)
        OSThread.detach { [self] in
            let failure = Self.transfer(from: server, key: key, into: text, maximumSize: maximumSize, deadline: deadline, received: received) { seconds in
                expire.withLock { $0 = seconds }
            }.map { RefreshError($0.kind, "\(name): \($0.reason)") }
            // Recorded before the text ends: the parser, woken by the end,
            // fails, and the caller then asks `failure` why.
            if let failure { problem.withLock { $0 = failure } }
            text.finish(failure.map { ZoneError(file: name, message: $0.description) })
        }
    }

    /// Reads the transfer into `text`; nil when it ended with its closing
    /// SOA, or why not.
    private static func transfer(from server: IPEndpoint, key: TSIGKey?, into text: ZoneText, maximumSize: Int, deadline: Int, received total: borrowing Mutex<Int>,
                                 expire: (UInt32) -> Void) -> (kind: RefreshError.Kind, reason: String)? {
        let query = Message.query(id: UInt16.random(in: 0...UInt16.max), question: Question(name: .root, type: .axfr),
                                  edns: EDNSOption.askingExpire)
        var reader = TransferReader(queryID: query.header.id)
        var signing = TransferSigning(key: key)
        let request = signing.sign(query.encoded())
        var problem: (kind: RefreshError.Kind, reason: String)?
        let cap = "the --max-size cap of \(maximumSize >> 20) MiB"
        var received = 0
        // The exchange's own cap only bounds what it buffers (a message and
        // a 64 KiB read past ours): the count of whole messages decides.
        let result = DNSExchange.overTCP(request, to: server, deadline: deadline, maximumBytes: maximumSize + 2 * 65536 + 2) { signed in
            let message: [UInt8]
            do throws(TSIGFailure) {
                message = try signing.verify(signed)
            } catch {
                problem = (.fetch, "\(error)")
                return false
            }
            if reader.records == 0, let seconds = EDNSOption.expireSeconds(inReply: message) { expire(seconds) }
            received += 2 + message.count
            total.withLock { $0 = received }
            guard received <= maximumSize else {
                problem = (.fetch, "the transfer is over \(cap)")
                return false
            }
            do throws(TransferError) {
                guard text.append(try reader.read(message)) else {
                    problem = (.fetch, "the transfer's text is over \(textPerWireByte) times \(cap)")
                    return false
                }
            } catch {
                problem = (error.isZoneData ? .data : .fetch, error.description)
                return false
            }
            return !reader.isComplete
        }
        if let problem { return problem }
        if case .failure(let failure) = result {
            return (.fetch, reader.records == 0 ? "\(failure)" : "the transfer ended before its closing SOA, after \(reader.records) records: \(failure)")
        }
        guard reader.isComplete else { return (.fetch, "the transfer ended before its closing SOA, after \(reader.records) records") }
        do throws(TSIGFailure) {
            try signing.finish()
        } catch {
            return (.fetch, "\(error)")
        }
        return nil
    }
}

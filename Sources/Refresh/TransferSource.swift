import Addressing
import DNSWire

/// `refresh --url axfr://HOST[:PORT]`: the zone by AXFR over TCP (RFC
/// 5936), from a root server that allows it or from a fleet's own primary.
/// A transfer carries no OpenPGP signature: the zone's DNSSEC chain and
/// ZONEMD digest are what make it trustworthy, so both are required of it.
enum TransferSource {
    /// The serial `server` serves, asked over TCP (the transfer will use it too).
    static func serial(of server: IPEndpoint, deadline: Int) throws(RefreshError) -> UInt32 {
        let query = Message.query(id: UInt16.random(in: 0...UInt16.max), question: Question(name: .root, type: .soa))
        let reply: [UInt8]
        switch DNSExchange.overTCP(query.encoded(), to: server, deadline: deadline) {
        case .success(let bytes): reply = bytes
        case .failure(let failure): throw RefreshError(.fetch, "axfr://\(server): SOA query: \(failure)")
        }
        guard let message = try? Message(parsing: reply), message.header.id == query.header.id,
              let soa = message.answers.first(where: { $0.type == .soa && $0.owner == .root }),
              let fields = SOAFields(rdata: soa.rdata) else {
            throw RefreshError(.fetch, "axfr://\(server): no SOA for . in the reply")
        }
        return fields.serial
    }

    /// The zone transferred from `server`, as master-file text in RFC 3597's
    /// generic form (`owner TTL IN TYPE \# length hex`), which the zone
    /// parser checks against each type's layout: nothing is lost in the
    /// round trip, whatever the types. At most `maximumSize` bytes of text.
    static func zoneText(from server: IPEndpoint, maximumSize: Int, deadline: Int) throws(RefreshError) -> [UInt8] {
        let query = Message.query(id: UInt16.random(in: 0...UInt16.max), question: Question(name: .root, type: .axfr))
        var text: [UInt8] = []
        var records = 0
        var problem: String?
        var complete = false
        let result = DNSExchange.overTCP(query.encoded(), to: server, deadline: deadline, maximumBytes: maximumSize) { bytes in
            guard let message = try? Message(parsing: bytes), message.header.id == query.header.id, message.header.isResponse else {
                problem = "a malformed message"
                return false
            }
            guard message.rcode == .noError else {
                problem = "transfer answered \(message.rcode)"
                return false
            }
            for record in message.answers {
                // RFC 5936 §2.2: the SOA opens the transfer and closes it.
                if records == 0 && record.type != .soa {
                    problem = "the transfer does not start with the SOA"
                    return false
                }
                // The closing SOA repeats the first: the zone holds it once.
                if records > 0 && record.type == .soa {
                    complete = true
                    return false
                }
                text += Array("\(record.owner)\t\(record.ttl)\t\(record.rclass)\t\(record.type)\t\(Presentation.generic(record.rdata))\n".utf8)
                records += 1
            }
            guard text.count <= maximumSize else {
                problem = "zone over \(maximumSize) bytes"
                return false
            }
            return true
        }
        if let problem { throw RefreshError(.fetch, "axfr://\(server): \(problem)") }
        if case .failure(let failure) = result { throw RefreshError(.fetch, "axfr://\(server): \(failure) after \(records) records") }
        guard complete else { throw RefreshError(.fetch, "axfr://\(server): the transfer ended before its closing SOA") }
        return text
    }
}

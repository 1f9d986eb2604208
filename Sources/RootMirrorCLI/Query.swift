import Answering
import ArgumentParser
import CDBStore
import DNSWire

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Answer one query from data.cdb, without the network, printed like dig.",
        discussion: "The answer comes from the same code that `serve` uses, with serve's defaults: a 1232-byte UDP payload, no CHAOS identity."
    )

    @Argument(help: "The query name.")
    var name: String

    @Argument(help: "The query type (A, NS, DS, SOA, TYPE65, ...).")
    var type = "A"

    @Option(name: .shortAndLong, help: "The data.cdb to answer from.")
    var data = defaultDataPath

    @Option(help: "Send EDNS with this UDP payload size (as dig +bufsize).")
    var edns: UInt16?

    @Flag(help: "Set the DO bit (implies EDNS).")
    var dnssec = false

    @Flag(help: "Answer as over TCP (no 512-byte or EDNS size limit).")
    var tcp = false

    @Option(help: "The query class (IN, CH).")
    var qclass = "IN"

    func run() throws {
        let qname: DNSName
        do {
            qname = try DNSName(text: name)
        } catch {
            throw fail("bad query name '\(name)': \(error)", exitCode: 64)
        }
        guard let qtype = RRType(mnemonic: type) else { throw fail("unknown query type '\(type)'", exitCode: 64) }
        guard let rclass = RRClass(mnemonic: qclass) else { throw fail("unknown query class '\(qclass)'", exitCode: 64) }
        do {
            let zone = try ZoneIndex(records: DataStore.load(path: data))
            let ednsRequest = (edns != nil || dnssec) ? EDNS(udpPayloadSize: edns ?? 1232, dnssecOK: dnssec) : nil
            let packet = Message.query(id: 1, question: Question(name: qname, type: qtype, rclass: rclass), edns: ednsRequest).encoded()
            var out = [UInt8](repeating: 0, count: Responder.maximumReplySize)
            let reply = packet.withUnsafeBytes { p in
                out.withUnsafeMutableBytes { o in
                    Responder().respond(to: p, zone: zone, transport: tcp ? .tcp : .udp, into: o)
                }
            }
            let message = try Message(parsing: Array(out[0..<reply.length]))
            print(message.digText(size: reply.length))
        } catch {
            throw fail(error)
        }
    }
}

import DNSWire
import Testing
import ZoneFile

/// An AXFR reply into zone text, message by message: what opens and closes
/// a transfer, and what makes one unusable.
@Suite struct TransferReaderTests {
    let soa = ResourceRecord(owner: .root, type: .soa, ttl: 86400,
                             rdata: try! DNSName(text: "a.root-servers.net.").wire + (try! DNSName(text: "nstld.verisign-grs.com.").wire)
                                 + [0x78, 0xC2, 0x0B, 0x5C] + [0, 0, 7, 8, 0, 0, 3, 0x84, 0, 9, 0x3A, 0x80, 0, 1, 0x51, 0x80])
    let ns = ResourceRecord(owner: .root, type: .ns, ttl: 518400, rdata: try! DNSName(text: "a.root-servers.net.").wire)
    let glue = ResourceRecord(owner: try! DNSName(text: "a.root-servers.net."), type: .a, ttl: 518400, rdata: [198, 41, 0, 4])

    func message(id: UInt16 = 7, rcode: UInt16 = 0, _ records: [ResourceRecord]) -> [UInt8] {
        var m = Message(header: MessageHeader(id: id, flags: MessageHeader.qrBit | MessageHeader.aaBit | rcode))
        m.questions = [Question(name: .root, type: .axfr)]
        m.answers = records
        return m.encoded()
    }

    /// Several messages, the SOA once in the text, nothing after the closing SOA;
    /// the text parses back into the same records.
    @Test func readsATransferInSeveralMessages() throws {
        var reader = TransferReader(queryID: 7)
        var text = try reader.read(message([soa, ns]))
        #expect(!reader.isComplete && reader.records == 2)
        text += try reader.read(message([glue, soa, ns]))
        #expect(reader.isComplete && reader.records == 3)
        #expect(try reader.read(message([ns])).isEmpty)
        let parsed = try ZoneParser.parse(text, file: "axfr")
        #expect(Array(parsed.records).map(\.type) == [.soa, .ns, .a])
        #expect(Array(parsed.records).first?.rdata == soa.rdata)
    }

    @Test func refusesWhatIsNotATransfer() {
        var reader = TransferReader(queryID: 7)
        #expect(throws: TransferError.self) { try reader.read(message(id: 8, [soa])) }
        #expect(throws: TransferError.self) { try reader.read([0, 7, 0x84]) }
        #expect(throws: TransferError.self) { try reader.read(message(rcode: 5, [])) }
        do {
            _ = try reader.read(message([ns, soa]))
            Issue.record("a transfer that does not open with the SOA was read")
        } catch {
            #expect(error.description == "the transfer does not start with the SOA")
        }
    }
}

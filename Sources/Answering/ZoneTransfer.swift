import DNSWire

/// The zone as the messages of an AXFR reply (RFC 5936), built once per
/// loaded zone, so that a transfer costs copies, as a query does: the SOA
/// first and last, as many records per message as fit in 64 KiB, names
/// compressed. IXFR is answered the same way (RFC 1995 §4: a server may
/// always send the whole zone).
///
/// Immutable: a transfer holds its instance to the end, so a reload that
/// swaps in a new zone never mixes two serials in one transfer.
public final class ZoneTransfer: Sendable {
    public let serial: UInt32
    /// Complete messages with ID 0 and the question `<apex> IN AXFR`,
    /// which `write` replaces with the client's own.
    let messages: [[UInt8]]
    let apex: DNSName

    public var messageCount: Int { messages.count }

    /// `records` must hold exactly one SOA, owned by `apex`.
    init(apex: DNSName, soa: ResourceRecord, records: [ResourceRecord]) {
        self.apex = apex
        serial = SOAFields(rdata: soa.rdata)?.serial ?? 0
        let body = records.filter { $0.type != .soa && $0.owner.isSubdomain(of: apex) }
        var messages: [[UInt8]] = []
        var writer = Self.start(apex)
        var count = 0
        func finish() {
            var message = writer.bytes
            message[6] = UInt8(count >> 8)
            message[7] = UInt8(count & 0xFF)
            messages.append(message)
            writer = Self.start(apex)
            count = 0
        }
        for record in [soa] + body + [soa] {
            // Compression only shortens a record: its uncompressed size is a
            // safe bound for the room it needs.
            // Room is kept for the OPT record a client's EDNS query gets.
            if count > 0 && writer.bytes.count + record.owner.wire.count + 10 + record.rdata.count > Int(UInt16.max) - Responder.optSize {
                finish()
            }
            writer.record(record)
            count += 1
        }
        finish()
        self.messages = messages
    }

    /// A message's header and question; the question name is the first
    /// target the records' names are compressed against.
    private static func start(_ apex: DNSName) -> MessageWriter {
        var writer = MessageWriter()
        var header = MessageHeader(id: 0, flags: MessageHeader.qrBit | MessageHeader.aaBit)
        header.questionCount = 1
        writer.header(header)
        writer.name(apex)
        writer.u16(RRType.axfr.rawValue)
        writer.u16(RRClass.in.rawValue)
        return writer
    }

    /// Whether `query` (parsed from `packet`) asks for this zone by AXFR or IXFR.
    public func isRequested(by query: IncomingQuery, in packet: UnsafeRawBufferPointer) -> Bool {
        guard query.qclass == .in, query.qtype == .axfr || query.qtype == .ixfr, query.qnameLength == apex.wire.count else { return false }
        return DNSName.isSubdomain(UnsafeRawBufferPointer(rebasing: packet[MessageHeader.size..<query.qnameEnd]), of: apex)
    }

    /// Writes message `index` of the reply to `query` into `out` (at least
    /// 65535 bytes): the client's ID, RD and question, and an OPT record
    /// advertising `payload` when the query had one (as Knot and NSD do);
    /// returns its length.
    public func write(_ index: Int, replyingTo query: IncomingQuery, packet: UnsafeRawBufferPointer, payload: Int,
                      into out: UnsafeMutableRawBufferPointer) -> Int {
        let message = messages[index]
        message.withUnsafeBytes { out.copyMemory(from: $0) }
        out[0] = UInt8(query.id >> 8)
        out[1] = UInt8(query.id & 0xFF)
        out[2] |= UInt8((query.flags & MessageHeader.rdBit) >> 8)
        // The question name has the apex's length (`isRequested`): the
        // client's spelling and type go where the apex's were.
        (out.baseAddress! + MessageHeader.size).copyMemory(from: packet.baseAddress! + MessageHeader.size,
                                                           byteCount: query.questionEnd - MessageHeader.size)
        guard let edns = query.edns else { return message.count }
        out[11] = 1
        return Responder.writeOPT(into: out, at: message.count, payload: UInt16(payload), dnssecOK: edns.dnssecOK, extendedRCode: 0)
    }
}

import CDBStore
import DNSWire
import Synchronization

/// The zone as the messages of an AXFR reply (RFC 5936), built once per
/// loaded zone, so that a transfer costs copies, as a query does: the SOA
/// first and last, as many records per message as fit in 64 KiB, names
/// compressed. IXFR (RFC 1995) is answered from the journal of the
/// versions before this one: the differences from the client's serial,
/// one SOA when it is current, the whole zone when the journal does not
/// reach back to its serial or the differences would outweigh the zone.
///
/// Immutable: a transfer holds its reply to the end, so a reload that
/// swaps in a new zone never mixes two serials in one transfer.
public final class ZoneTransfer: Sendable {
    public let serial: UInt32
    /// Complete messages with ID 0 and the question `<apex> IN AXFR`,
    /// which `TransferReply.write` replaces with the client's own.
    let messages: [[UInt8]]
    /// The reply to a client already at `serial`: the SOA alone.
    let upToDate: [UInt8]
    let apex: DNSName
    let soa: ResourceRecord
    /// The differences that lead to this version.
    public let journal: ZoneJournal
    /// The zone's size on the wire, uncompressed: an IXFR whose differences
    /// weigh more goes as AXFR.
    let zoneSize: Int
    /// IXFR replies by the client's serial, built on the first request for
    /// it: a handful of secondaries ask from the same one or two serials.
    private let incremental = Mutex<[UInt32: [[UInt8]]]>([:])

    public var messageCount: Int { messages.count }

    /// Bytes each message leaves free for EXPIRE and a TSIG record.
    static let signatureRoom = 8 + 255 + 10 + 32 + 16 + 64

    /// `records` must hold exactly one SOA, owned by `apex`; `journal`'s
    /// differences must end at its serial (others are not used).
    init(apex: DNSName, soa: ResourceRecord, records: [ResourceRecord], journal: ZoneJournal = ZoneJournal()) {
        self.apex = apex
        self.soa = soa
        let serial = SOAFields(rdata: soa.rdata)?.serial ?? 0
        self.serial = serial
        self.journal = journal.lastSerial == serial ? journal : ZoneJournal()
        let body = records.filter { $0.type != .soa && $0.owner.isSubdomain(of: apex) }
        zoneSize = body.reduce(soa.wireSize) { $0 + $1.wireSize }
        messages = Self.pack([soa] + body + [soa], apex: apex)
        upToDate = Self.pack([soa], apex: apex)[0]
    }

    /// `records` as reply messages of at most 64 KiB, each with its header
    /// and question (answer counts set).
    private static func pack(_ records: [ResourceRecord], apex: DNSName) -> [[UInt8]] {
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
        for record in records {
            // Compression only shortens a record: its uncompressed size is a
            // safe bound for the room it needs.
            // Room is kept for the OPT record a client's EDNS query gets,
            // with EXPIRE, and for a TSIG (the longest key name, SHA-512's MAC).
            if count > 0 && writer.bytes.count + record.wireSize > Int(UInt16.max) - Responder.optSize - Self.signatureRoom {
                finish()
            }
            writer.record(record)
            count += 1
        }
        finish()
        return messages
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

    /// The serial an IXFR query says its client holds (the SOA in its
    /// authority section, RFC 1995 §3); nil when there is none.
    public static func heldSerial(in packet: UnsafeRawBufferPointer) -> UInt32? {
        (try? Message(parsing: Array(packet)))?.authority.first { $0.type == .soa }.flatMap { SOAFields(rdata: $0.rdata)?.serial }
    }

    /// The reply to a transfer request: AXFR gets the zone; IXFR from
    /// `held` gets the SOA alone when the client is current (or ahead),
    /// the differences when the journal has them and they weigh less than
    /// the zone, else the zone.
    public func reply(to qtype: RRType, holding held: UInt32?) -> TransferReply {
        guard qtype == .ixfr, let held else { return TransferReply(messages: messages, serial: serial, form: .full) }
        if held == serial || SerialNumber.isNewer(held, than: serial) {
            return TransferReply(messages: [upToDate], serial: serial, form: .upToDate)
        }
        if let cached = incremental.withLock({ $0[held] }) {
            return TransferReply(messages: cached, serial: serial, form: .incremental)
        }
        guard let differences = journal.differences(from: held),
              differences.reduce(0, { $0 + $1.wireSize }) < zoneSize else {
            return TransferReply(messages: messages, serial: serial, form: .full)
        }
        var records = [soa]
        for difference in differences {
            records.append(difference.from)
            records += difference.deleted
            records.append(difference.to)
            records += difference.added
        }
        records.append(soa)
        let built = Self.pack(records, apex: apex)
        incremental.withLock { $0[held] = built }
        return TransferReply(messages: built, serial: serial, form: .incremental)
    }

    /// The reply to an IXFR over UDP (RFC 1995 §2): the SOA alone, which
    /// tells a client that is behind to ask again over TCP.
    public var soaOnly: TransferReply { TransferReply(messages: [upToDate], serial: serial, form: .upToDate) }
}

/// The messages of one transfer out, as the zone was when it was asked for.
public struct TransferReply: Sendable {
    public enum Form: String, Sendable {
        /// The whole zone (AXFR, or IXFR answered in AXFR form).
        case full
        /// The differences from the client's serial (IXFR).
        case incremental
        /// The SOA alone: the client is current.
        case upToDate = "up to date"
    }

    let messages: [[UInt8]]
    public let serial: UInt32
    public let form: Form

    public var messageCount: Int { messages.count }

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

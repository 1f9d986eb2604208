/// The server's view of an incoming query, read straight from the receive
/// buffer without allocating: the question is located, not copied, so the
/// reply can echo it byte for byte (0x20 resolvers check the case).
public struct IncomingQuery: Sendable {
    public var id: UInt16
    public var flags: UInt16
    /// The question name sits at bytes 12..<qnameEnd of the packet.
    public var qnameEnd: Int
    public var qtype: RRType
    public var qclass: RRClass
    public var edns: EDNSRequest?

    public var qnameLength: Int { qnameEnd - MessageHeader.size }
    public var questionEnd: Int { qnameEnd + 4 }
}

/// What a query's OPT record asked for (RFC 6891 §6.1.3).
public struct EDNSRequest: Sendable {
    public var udpPayloadSize: UInt16
    public var version: UInt8
    public var dnssecOK: Bool
    /// RFC 7314: the EXPIRE option, which asks how long the zone may still be served.
    public var expire = false

    public init(udpPayloadSize: UInt16, version: UInt8, dnssecOK: Bool, expire: Bool = false) {
        self.udpPayloadSize = udpPayloadSize
        self.version = version
        self.dnssecOK = dnssecOK
        self.expire = expire
    }
}

/// What to do with a packet that arrived on the query port.
public enum QueryParseResult: Sendable {
    case query(IncomingQuery)
    /// An error reply: the header's ID and flags are echoed, the question
    /// too when `question` says where it ends; EDNS when the query had it.
    case error(RCode, id: UInt16, flags: UInt16, questionEnd: Int?, edns: EDNSRequest?)
    /// Shorter than a header, or a response: never answered (RFC 1035 §4.1.1
    /// says nothing to answer; answering responses invites reflection loops).
    case drop
}

public enum QueryParser {
    /// Checks, in this order: a header and QR clear (else dropped); the
    /// message well formed to its last byte (else FORMERR, or NOTIMP for an
    /// opcode we do not implement, whose format we cannot judge); BADVERS
    /// for EDNS version > 0 (RFC 6891 §6.1.3); NOTIMP for an opcode other
    /// than QUERY (RFC 1035 §4.1.1; RFC 8490 §5.1 requires NOTIMP even for
    /// DSO, whose QDCOUNT is 0, so the opcode is judged before the count);
    /// FORMERR for QDCOUNT ≠ 1. The OPT record is found before any error is
    /// decided, so that every reply to an EDNS query carries OPT.
    public static func parse(_ p: UnsafeRawBufferPointer) -> QueryParseResult {
        guard p.count >= MessageHeader.size else { return .drop }
        let id = p.bigEndianUInt16(at: 0)
        let flags = p.bigEndianUInt16(at: 2)
        guard flags & MessageHeader.qrBit == 0 else { return .drop }
        let qdcount = p.bigEndianUInt16(at: 4), ancount = p.bigEndianUInt16(at: 6), nscount = p.bigEndianUInt16(at: 8), arcount = p.bigEndianUInt16(at: 10)
        let opcode = (flags >> 11) & 0xF
        let malformed: RCode = opcode == 0 ? .formErr : .notImp

        // The question is echoed only when there is exactly one; its name is
        // the first in the message, so it cannot be compressed.
        var offset = MessageHeader.size
        var questionEnd: Int?
        for index in 0..<Int(qdcount) {
            guard let nameEnd = index == 0 ? uncompressedNameEnd(p, at: offset) : skipName(p, at: offset),
                  nameEnd + 4 <= p.count else {
                return .error(malformed, id: id, flags: flags, questionEnd: nil, edns: nil)
            }
            offset = nameEnd + 4
            if qdcount == 1 { questionEnd = offset }
        }

        // Walk the remaining records only to find and check the OPT record.
        var edns: EDNSRequest?
        let total = Int(ancount) + Int(nscount) + Int(arcount)
        for index in 0..<total {
            guard let nameEnd = skipName(p, at: offset), nameEnd + 10 <= p.count else {
                return .error(malformed, id: id, flags: flags, questionEnd: questionEnd, edns: edns)
            }
            let type = p.bigEndianUInt16(at: nameEnd)
            let rdlength = Int(p.bigEndianUInt16(at: nameEnd + 8))
            let end = nameEnd + 10 + rdlength
            guard end <= p.count else { return .error(malformed, id: id, flags: flags, questionEnd: questionEnd, edns: edns) }
            if type == RRType.opt.rawValue {
                // OPT belongs in the additional section, once, owned by the root.
                guard index >= Int(ancount) + Int(nscount), edns == nil, nameEnd == offset + 1, p[offset] == 0,
                      let expire = scanOptions(p, from: nameEnd + 10, to: end) else {
                    return .error(malformed, id: id, flags: flags, questionEnd: questionEnd, edns: edns)
                }
                edns = EDNSRequest(
                    udpPayloadSize: p.bigEndianUInt16(at: nameEnd + 2),
                    version: p[nameEnd + 5],
                    dnssecOK: p[nameEnd + 6] & 0x80 != 0,
                    expire: expire)
            }
            offset = end
        }
        guard offset == p.count else { return .error(malformed, id: id, flags: flags, questionEnd: questionEnd, edns: edns) }
        if let e = edns, e.version > 0 {
            return .error(.badVers, id: id, flags: flags, questionEnd: questionEnd, edns: e)
        }
        guard opcode == 0 else { return .error(.notImp, id: id, flags: flags, questionEnd: questionEnd, edns: edns) }
        guard let questionEnd else { return .error(.formErr, id: id, flags: flags, questionEnd: nil, edns: edns) }
        let qnameEnd = questionEnd - 4
        return .query(IncomingQuery(
            id: id, flags: flags, qnameEnd: qnameEnd,
            qtype: RRType(p.bigEndianUInt16(at: qnameEnd)), qclass: RRClass(p.bigEndianUInt16(at: qnameEnd + 2)), edns: edns))
    }


    /// The end of an uncompressed name, validated (labels ≤ 63, name ≤ 255).
    /// A question name is the first name in the message, so a compression
    /// pointer there cannot point anywhere valid.
    static func uncompressedNameEnd(_ p: UnsafeRawBufferPointer, at start: Int) -> Int? {
        var i = start
        while true {
            guard i < p.count else { return nil }
            let len = Int(p[i])
            if len == 0 { break }
            guard len <= DNSName.maxLabelLength else { return nil }
            i += len + 1
        }
        guard i + 1 - start <= DNSName.maxWireLength else { return nil }
        return i + 1
    }

    /// The in-place end of a possibly compressed name, checking that each
    /// pointer goes backwards; the target itself need not be followed to skip.
    static func skipName(_ p: UnsafeRawBufferPointer, at start: Int) -> Int? {
        var i = start
        var length = 0
        while true {
            guard i < p.count else { return nil }
            let len = Int(p[i])
            if len & 0xC0 == 0xC0 {
                guard i + 1 < p.count, ((len & 0x3F) << 8 | Int(p[i + 1])) < start else { return nil }
                return i + 2
            }
            guard len <= DNSName.maxLabelLength else { return nil }
            length += len + 1
            guard length <= DNSName.maxWireLength else { return nil }
            i += len + 1
            if len == 0 { return i }
        }
    }

    /// Hands `body` each resource record's index (answers first), start and
    /// name end, the questions skipped; false when the message does not read
    /// to its last byte.
    static func forEachRecord(in p: UnsafeRawBufferPointer, _ body: (_ index: Int, _ start: Int, _ nameEnd: Int) -> Void) -> Bool {
        guard p.count >= MessageHeader.size else { return false }
        var at = MessageHeader.size
        for _ in 0..<Int(p.bigEndianUInt16(at: 4)) {
            guard let end = skipName(p, at: at), end + 4 <= p.count else { return false }
            at = end + 4
        }
        let records = Int(p.bigEndianUInt16(at: 6)) + Int(p.bigEndianUInt16(at: 8)) + Int(p.bigEndianUInt16(at: 10))
        for index in 0..<records {
            guard let end = skipName(p, at: at), end + 10 <= p.count else { return false }
            body(index, at, end)
            at = end + 10 + Int(p.bigEndianUInt16(at: end + 8))
        }
        return at == p.count
    }

    /// Options are code, length, data; they must tile the rdata exactly.
    /// Nil when they do not; else whether one is EXPIRE.
    static func scanOptions(_ p: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool? {
        var i = start
        var expire = false
        while i < end {
            guard i + 4 <= end else { return nil }
            if p.bigEndianUInt16(at: i) == EDNSOption.expire { expire = true }
            i += 4 + Int(p.bigEndianUInt16(at: i + 2))
        }
        return i == end ? expire : nil
    }
}

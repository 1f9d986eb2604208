import DNSWire

/// What kind of reply was sent, for counters and logs.
public enum ReplyKind: String, Sendable, CaseIterable {
    case answer, referral, nodata, nxdomain, refused, error
}

public enum Transport: Sendable { case udp, tcp }

/// The outcome of answering one packet.
public struct Reply: Sendable {
    /// Bytes written to the output buffer; 0 means send nothing.
    public var length: Int
    public var kind: ReplyKind
    public var rcode: RCode
    public var truncated: Bool

    public init(length: Int, kind: ReplyKind, rcode: RCode, truncated: Bool) {
        self.length = length
        self.kind = kind
        self.rcode = rcode
        self.truncated = truncated
    }
}

/// Answers one query packet into a caller-provided buffer, allocating
/// nothing. Shared by `serve` (every UDP and TCP query) and `query` (one
/// query from the command line), so what `query` prints is what the server
/// sends.
public struct Responder: Sendable {
    /// Largest UDP reply we send to an EDNS client, whatever it offers
    /// (1232 avoids IP fragmentation on any path, DNS flag day 2020).
    public var maximumUDPPayload: Int
    /// Buffer size a caller must provide.
    public static let maximumReplySize = 65535

    /// What CHAOS-class TXT queries for the server's identity are told;
    /// every other non-IN query is REFUSED.
    public var chaos: ChaosIdentity

    public init(maximumUDPPayload: Int = 1232, chaos: ChaosIdentity = .off) {
        self.maximumUDPPayload = max(512, min(maximumUDPPayload, 65535))
        self.chaos = chaos
    }

    public func respond(to packet: UnsafeRawBufferPointer, zone: ZoneIndex, transport: Transport,
                        into out: UnsafeMutableRawBufferPointer) -> Reply {
        switch QueryParser.parse(packet) {
        case .drop:
            return Reply(length: 0, kind: .error, rcode: .formErr, truncated: false)
        case .error(let rcode, let id, let flags, let questionEnd, let edns):
            return errorReply(rcode, id: id, flags: flags, packet: packet, questionEnd: questionEnd, edns: edns, into: out)
        case .query(let query):
            return answer(query, packet: packet, zone: zone, transport: transport, into: out)
        }
    }

    func answer(_ q: IncomingQuery, packet: UnsafeRawBufferPointer, zone: ZoneIndex, transport: Transport,
                        into out: UnsafeMutableRawBufferPointer) -> Reply {
        guard q.qclass == .in else {
            if q.qclass == .ch, q.qtype == .txt, let text = chaos.text(for: packet, qnameEnd: q.qnameEnd) {
                return chaosReply(q, text: text, packet: packet, into: out)
            }
            return errorReply(.refused, id: q.id, flags: q.flags, packet: packet, questionEnd: q.questionEnd, edns: q.edns, into: out)
        }
        // A transfer the server may grant never gets here (`classify`);
        // the rest (AXFR over UDP, another zone, no transfers) are refused.
        if q.qtype == .axfr || q.qtype == .ixfr {
            return errorReply(.refused, id: q.id, flags: q.flags, packet: packet, questionEnd: q.questionEnd, edns: q.edns, into: out)
        }
        guard let found = zone.lookup(packet, qnameEnd: q.qnameEnd, qtype: q.qtype,
                                      dnssecOK: q.edns?.dnssecOK ?? false) else {
            return errorReply(.refused, id: q.id, flags: q.flags, packet: packet, questionEnd: q.questionEnd, edns: q.edns, into: out)
        }

        var limit: Int
        switch transport {
        case .tcp: limit = Self.maximumReplySize
        case .udp: limit = q.edns.map { max(512, min(Int($0.udpPayloadSize), maximumUDPPayload)) } ?? 512
        }
        if q.edns != nil { limit -= Self.optSize }

        let questionEnd = q.questionEnd
        out.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: questionEnd)
        let placement = zone.write(found, into: out, at: questionEnd, limit: limit, qnameLength: q.qnameLength)
        var flags = MessageHeader.qrBit | (q.flags & (MessageHeader.rdBit | MessageHeader.cdBit)) | found.rcode.rawValue
        if found.authoritative { flags |= MessageHeader.aaBit }
        if placement.truncated { flags |= MessageHeader.tcBit }
        var end = placement.end
        if let edns = q.edns { end = writeOPT(into: out, at: end, dnssecOK: edns.dnssecOK, extendedRCode: 0) }
        writeHeader(into: out, id: q.id, flags: flags, qd: 1, an: placement.counts.answer, ns: placement.counts.authority,
                    ar: placement.counts.additional + (q.edns == nil ? 0 : 1))
        return Reply(length: end, kind: found.kind, rcode: found.rcode, truncated: placement.truncated)
    }

    /// What rate limiting sends instead of a reply it withholds ("slip", as
    /// NSD and Knot do): the question with TC set and nothing else, so that
    /// a real client asks again over TCP, which a forged source cannot. An
    /// unparsable packet gets nothing.
    public func slip(to packet: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Reply {
        guard case .query(let q) = QueryParser.parse(packet) else { return Reply(length: 0, kind: .error, rcode: .formErr, truncated: false) }
        out.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: q.questionEnd)
        var end = q.questionEnd
        if let edns = q.edns { end = writeOPT(into: out, at: end, dnssecOK: edns.dnssecOK, extendedRCode: 0) }
        let flags = MessageHeader.qrBit | MessageHeader.aaBit | MessageHeader.tcBit | (q.flags & (MessageHeader.rdBit | MessageHeader.cdBit))
        writeHeader(into: out, id: q.id, flags: flags, qd: 1, an: 0, ns: 0, ar: q.edns == nil ? 0 : 1)
        return Reply(length: end, kind: .answer, rcode: .noError, truncated: true)
    }

    /// SERVFAIL to a well-formed query: what `serve --on-expiry servfail`
    /// answers once the data has expired and must not be served (RFC 8806).
    public func serverFailure(to query: IncomingQuery, packet: UnsafeRawBufferPointer,
                              into out: UnsafeMutableRawBufferPointer) -> Reply {
        errorReply(.servFail, id: query.id, flags: query.flags, packet: packet, questionEnd: query.questionEnd, edns: query.edns, into: out)
    }

    /// The acknowledgement of a NOTIFY (RFC 1996 §4.7: the question echoed,
    /// no records), or REFUSED when the sender is not heard; a malformed
    /// NOTIFY gets FORMERR, as any malformed message does.
    public func notifyReply(to packet: UnsafeRawBufferPointer, accepted: Bool, into out: UnsafeMutableRawBufferPointer) -> Reply {
        switch QueryParser.parse(packet) {
        case .drop:
            return Reply(length: 0, kind: .error, rcode: .formErr, truncated: false)
        case .error(let rcode, let id, let flags, let questionEnd, let edns):
            let verdict: RCode = rcode != .notImp || questionEnd == nil ? .formErr : accepted ? .noError : .refused
            return errorReply(verdict, id: id, flags: flags, packet: packet, questionEnd: questionEnd, edns: edns, into: out)
        case .query(let q):
            return errorReply(.formErr, id: q.id, flags: q.flags, packet: packet, questionEnd: q.questionEnd, edns: q.edns, into: out)
        }
    }

    /// A reply with no records: the header (ID, opcode, RD echoed), the
    /// question when it could be parsed, and OPT when the query had EDNS.
    func errorReply(_ rcode: RCode, id: UInt16, flags: UInt16, packet: UnsafeRawBufferPointer, questionEnd: Int?,
                            edns: EDNSRequest?, into out: UnsafeMutableRawBufferPointer) -> Reply {
        var end = MessageHeader.size
        if let questionEnd {
            out.baseAddress!.advanced(by: end).copyMemory(from: packet.baseAddress!.advanced(by: end), byteCount: questionEnd - end)
            end = questionEnd
        }
        if let edns { end = writeOPT(into: out, at: end, dnssecOK: edns.dnssecOK, extendedRCode: UInt8(rcode.rawValue >> 4)) }
        let replyFlags = MessageHeader.qrBit | (flags & (0x7800 | MessageHeader.rdBit | MessageHeader.cdBit)) | (rcode.rawValue & 0xF)
        writeHeader(into: out, id: id, flags: replyFlags, qd: questionEnd == nil ? 0 : 1, an: 0, ns: 0, ar: edns == nil ? 0 : 1)
        return Reply(length: end, kind: rcode == .refused ? .refused : .error, rcode: rcode, truncated: false)
    }

    /// The question, then one TXT record `<qname> 0 CH TXT "text"` whose
    /// owner points at the question name. AA set, as BIND, NSD and Knot do:
    /// the server is the authority on its own identity. Always small: a
    /// CHAOS name is at most 15 bytes and the text at most 255.
    private func chaosReply(_ q: IncomingQuery, text: [UInt8], packet: UnsafeRawBufferPointer,
                            into out: UnsafeMutableRawBufferPointer) -> Reply {
        out.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: q.questionEnd)
        var end = q.questionEnd
        // Owner (pointer to the question name), TXT, CH, TTL 0, rdlength.
        let fixed: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            0xC0, UInt8(MessageHeader.size), 0, 16, 0, 3, 0, 0, 0, 0, UInt8(text.count >> 8), UInt8(text.count & 0xFF))
        withUnsafeBytes(of: fixed) { out.baseAddress!.advanced(by: end).copyMemory(from: $0.baseAddress!, byteCount: 12) }
        end += 12
        text.withUnsafeBytes { out.baseAddress!.advanced(by: end).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        end += text.count
        if let edns = q.edns { end = writeOPT(into: out, at: end, dnssecOK: edns.dnssecOK, extendedRCode: 0) }
        let flags = MessageHeader.qrBit | MessageHeader.aaBit | (q.flags & (MessageHeader.rdBit | MessageHeader.cdBit))
        writeHeader(into: out, id: q.id, flags: flags, qd: 1, an: 1, ns: 0, ar: q.edns == nil ? 0 : 1)
        return Reply(length: end, kind: .answer, rcode: .noError, truncated: false)
    }

    static let optSize = 11

    private func writeOPT(into out: UnsafeMutableRawBufferPointer, at offset: Int, dnssecOK: Bool, extendedRCode: UInt8) -> Int {
        Self.writeOPT(into: out, at: offset, payload: UInt16(maximumUDPPayload), dnssecOK: dnssecOK, extendedRCode: extendedRCode)
    }

    /// Our OPT record (RFC 6891 §6.1.2): `payload` advertised, DO echoed.
    static func writeOPT(into out: UnsafeMutableRawBufferPointer, at offset: Int, payload: UInt16, dnssecOK: Bool, extendedRCode: UInt8) -> Int {
        let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            0, 0, 41, UInt8(payload >> 8), UInt8(payload & 0xFF), extendedRCode, 0, dnssecOK ? 0x80 : 0, 0, 0, 0)
        withUnsafeBytes(of: bytes) { out.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: Self.optSize) }
        return offset + Self.optSize
    }

    private func writeHeader(into out: UnsafeMutableRawBufferPointer, id: UInt16, flags: UInt16, qd: UInt16, an: UInt16, ns: UInt16, ar: UInt16) {
        for (i, v) in [id, flags, qd, an, ns, ar].enumerated() {
            out[i * 2] = UInt8(v >> 8)
            out[i * 2 + 1] = UInt8(v & 0xFF)
        }
    }
}

/// The answers to `version.bind`, `id.server` and `hostname.bind` (class
/// CHAOS, type TXT), the names operators and monitoring use to ask a server
/// what it runs and which instance answered. Each may be off; off answers
/// REFUSED, like any other non-IN query.
public struct ChaosIdentity: Sendable {
    /// version.bind
    public var version: String?
    /// id.server (RFC 4892) and its older name hostname.bind.
    public var identity: String?

    public static let off = ChaosIdentity(version: nil, identity: nil)

    /// The query names, lower case, in wire format, and each one's TXT
    /// character-string (length byte, at most 255 bytes of text), built
    /// once so that answering compares bytes and copies.
    private let entries: [(name: [UInt8], text: [UInt8])]

    public init(version: String?, identity: String?) {
        self.version = version
        self.identity = identity
        func characterString(_ s: String) -> [UInt8] {
            let bytes = Array(s.utf8.prefix(255))
            return [UInt8(bytes.count)] + bytes
        }
        var entries: [(name: [UInt8], text: [UInt8])] = []
        if let version { entries.append((Array("\u{7}version\u{4}bind\u{0}".utf8), characterString(version))) }
        if let identity {
            entries.append((Array("\u{2}id\u{6}server\u{0}".utf8), characterString(identity)))
            entries.append((Array("\u{8}hostname\u{4}bind\u{0}".utf8), characterString(identity)))
        }
        self.entries = entries
    }

    /// The TXT character-string for the question name at bytes 12..<qnameEnd, if any.
    func text(for packet: UnsafeRawBufferPointer, qnameEnd: Int) -> [UInt8]? {
        let length = qnameEnd - MessageHeader.size
        for entry in entries where entry.name.count == length {
            var equal = true
            for j in 0..<length where asciiLower(packet[MessageHeader.size + j]) != entry.name[j] {
                equal = false
                break
            }
            if equal { return entry.text }
        }
        return nil
    }
}

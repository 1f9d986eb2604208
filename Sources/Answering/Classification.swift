import DNSWire

/// What the transport knows that decides a packet's fate, read once per
/// UDP batch or TCP read.
public struct TransportFacts: Sendable {
    public var transport: Transport
    /// Some client may transfer the zone (`--allow-transfer`): its
    /// requests and SOA checks go to the server to judge, not refused here.
    public var transfers: Bool
    /// The data has expired and must not be served (`--on-expiry`
    /// forward or servfail).
    public var intercepting: Bool
    /// Intercepted queries are relayed to the live roots, else SERVFAIL.
    public var forwarding: Bool

    public init(transport: Transport, transfers: Bool, intercepting: Bool, forwarding: Bool) {
        self.transport = transport
        self.transfers = transfers
        self.intercepting = intercepting
        self.forwarding = forwarding
    }
}

/// What becomes of one packet: decided here once, for UDP and TCP alike,
/// as NSD's `query_process` and Knot's `process_query` do, so that no
/// transport parses a packet again to find out what it is.
public enum Disposition {
    /// The reply is in the buffer (length 0: send nothing).
    case reply(Reply)
    /// A NOTIFY (RFC 1996): only the server knows whom it follows.
    case notify
    /// AXFR or IXFR of the zone (IXFR alone over UDP, RFC 1995 §2): the
    /// server judges the client's rights and signature, and refuses with
    /// `Responder.refusal` or sends `transfer`'s reply.
    case transfer(IncomingQuery, ZoneTransfer)
    /// A secondary's SOA check (`. SOA`), answered in the buffer: the
    /// server notes it, adds RFC 7314's EXPIRE and signs it for a client
    /// with transfer rights.
    case soaCheck(IncomingQuery, Reply)
    /// Expired data: relayed to the live roots, the reply sent later.
    case forward(IncomingQuery)
}

extension Responder {
    /// Parses `packet` once and decides what it is, writing the reply
    /// into `out` when it is one; allocates nothing.
    @inline(__always)
    public func classify(_ packet: UnsafeRawBufferPointer, zone: ZoneIndex, facts: TransportFacts,
                         into out: UnsafeMutableRawBufferPointer) -> Disposition {
        // Before parsing: the parser answers any opcode but QUERY with NOTIMP.
        if packet.count >= MessageHeader.size && packet[2] & 0xF8 == 4 << 3 { return .notify }
        let q: IncomingQuery
        switch QueryParser.parse(packet) {
        case .drop:
            return .reply(Reply(length: 0, kind: .error, rcode: .formErr, truncated: false))
        case .error(let rcode, let id, let flags, let questionEnd, let edns):
            return .reply(errorReply(rcode, id: id, flags: flags, packet: packet, questionEnd: questionEnd, edns: edns, into: out))
        case .query(let parsed):
            q = parsed
        }
        if facts.transfers, q.qtype == .ixfr || (q.qtype == .axfr && facts.transport == .tcp),
           let transfer = zone.transfer, transfer.isRequested(by: q, in: packet) {
            return .transfer(q, transfer)
        }
        // Malformed packets, other classes (CHAOS identity) and transfers
        // are answered here whatever the data's age: no live root can do
        // better, and the server refuses an expired zone's transfer itself.
        if facts.intercepting, q.qclass == .in, q.qtype != .axfr, q.qtype != .ixfr {
            return facts.forwarding ? .forward(q) : .reply(serverFailure(to: q, packet: packet, into: out))
        }
        let reply = answer(q, packet: packet, zone: zone, transport: facts.transport, into: out)
        if facts.transfers, q.qtype == .soa, q.qnameLength == 1 { return .soaCheck(q, reply) }
        return .reply(reply)
    }

    /// REFUSED to a well-formed query: a transfer the server does not grant.
    public func refusal(to query: IncomingQuery, packet: UnsafeRawBufferPointer,
                        into out: UnsafeMutableRawBufferPointer) -> Reply {
        errorReply(.refused, id: query.id, flags: query.flags, packet: packet, questionEnd: query.questionEnd, edns: query.edns, into: out)
    }
}

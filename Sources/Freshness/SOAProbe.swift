import Addressing
import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// Asks upstream servers for a zone's SOA serial, all in parallel from one
/// thread: one UDP socket each, a single poll loop with one deadline, and
/// TCP for any reply that comes back truncated. Blocking by design: the
/// server runs it on a thread of its own, far from the answering threads.
public enum SOAProbe {
    public struct Result: Sendable, Equatable {
        public var upstream: IPEndpoint
        /// The serial, or nil when the upstream did not answer usefully.
        public var serial: UInt32?
        public var error: String?

        public init(upstream: IPEndpoint, serial: UInt32?, error: String?) {
            self.upstream = upstream
            self.serial = serial
            self.error = error
        }
    }

    public static func serials(of zone: DNSName = .root, from upstreams: [IPEndpoint], timeoutMilliseconds: Int = 2000) -> [Result] {
        let deadline = DNSExchange.monotonicMilliseconds() + timeoutMilliseconds
        var results = upstreams.map { Result(upstream: $0, serial: nil, error: "no answer within \(timeoutMilliseconds) ms") }
        var ids: [UInt16] = []
        var fds: [Int32] = []
        for (i, upstream) in upstreams.enumerated() {
            let id = UInt16.random(in: 0...UInt16.max)
            ids.append(id)
            let fd = socket(upstream.socketFamily, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            fds.append(fd)
            guard fd >= 0 else {
                results[i].error = "socket: \(String(cString: strerror(errno)))"
                continue
            }
            let query = Message.query(id: id, question: Question(name: zone, type: .soa)).encoded()
            let connected = upstream.withSockaddr { connect(fd, $0, $1) } == 0
            guard connected, send(fd, query, query.count, 0) == query.count else {
                results[i].error = "send: \(String(cString: strerror(errno)))"
                close(fd)
                fds[i] = -1
                continue
            }
        }
        defer { for fd in fds where fd >= 0 { close(fd) } }

        var pending = Set(fds.indices.filter { fds[$0] >= 0 })
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !pending.isEmpty {
            let wait = deadline - DNSExchange.monotonicMilliseconds()
            guard wait > 0 else { break }
            var polls = pending.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            let order = Array(pending)
            guard poll(&polls, nfds_t(polls.count), Int32(wait)) > 0 else { continue }
            for (k, p) in polls.enumerated() where p.revents != 0 {
                let i = order[k]
                let n = recv(fds[i], &buffer, buffer.count, 0)
                guard n > 0 else {
                    results[i].error = n < 0 ? "recv: \(String(cString: strerror(errno)))" : "empty reply"
                    pending.remove(i)
                    continue
                }
                switch interpret(Array(buffer[0..<n]), id: ids[i], zone: zone) {
                case .serial(let serial):
                    results[i].serial = serial
                    results[i].error = nil
                    pending.remove(i)
                case .truncated:
                    results[i] = overTCP(zone: zone, upstream: upstreams[i], deadline: deadline)
                    pending.remove(i)
                case .unrelated:
                    continue // a stray or spoofed packet: keep waiting for ours
                case .failed(let why):
                    results[i].error = why
                    pending.remove(i)
                }
            }
        }
        return results
    }

    enum Reading { case serial(UInt32), truncated, unrelated, failed(String) }

    static func interpret(_ bytes: [UInt8], id: UInt16, zone: DNSName) -> Reading {
        guard let reply = try? Message(parsing: bytes) else { return .failed("malformed reply") }
        guard reply.header.id == id, reply.header.isResponse,
              reply.questions.first?.name.lowercased() == zone.lowercased() else { return .unrelated }
        if reply.header.isTruncated { return .truncated }
        guard reply.rcode == .noError else { return .failed("rcode \(reply.rcode)") }
        guard let soa = reply.answers.first(where: { $0.type == .soa && $0.owner.lowercased() == zone.lowercased() }),
              let fields = SOAFields(rdata: soa.rdata) else { return .failed("no SOA in the answer") }
        return .serial(fields.serial)
    }

    static func overTCP(zone: DNSName, upstream: IPEndpoint, deadline: Int) -> Result {
        var result = Result(upstream: upstream, serial: nil, error: nil)
        let id = UInt16.random(in: 0...UInt16.max)
        let query = Message.query(id: id, question: Question(name: zone, type: .soa)).encoded()
        switch DNSExchange.overTCP(query, to: upstream, deadline: deadline) {
        case .failure(let error):
            result.error = error.description
        case .success(let reply):
            switch interpret(reply, id: id, zone: zone) {
            case .serial(let serial): result.serial = serial
            case .truncated: result.error = "truncated over TCP"
            case .unrelated: result.error = "unrelated TCP reply"
            case .failed(let why): result.error = why
            }
        }
        return result
    }
}

import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// A server to ask for the SOA: an IPv4 or IPv6 address and a port.
public struct Upstream: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    /// `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`.
    public init?(_ text: String, defaultPort: UInt16 = 53) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let p = UInt16(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            address = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, String(host), &v6) == 1 {
            address = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            return nil
        }
        self.port = port
    }

    public var isIPv6: Bool { address.count == 16 }

    public var description: String {
        isIPv6 ? "[\(Presentation.ipv6(address))]:\(port)" : "\(Presentation.ipv4(address)):\(port)"
    }

    /// Calls `body` with this upstream as a sockaddr.
    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if isIPv6 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: address) }
            return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: address) }
        return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
}

/// Asks upstream servers for a zone's SOA serial, all in parallel from one
/// thread: one UDP socket each, a single poll loop with one deadline, and
/// TCP for any reply that comes back truncated. Blocking by design: the
/// server runs it on a thread of its own, far from the answering threads.
public enum SOAProbe {
    public struct Result: Sendable, Equatable {
        public var upstream: Upstream
        /// The serial, or nil when the upstream did not answer usefully.
        public var serial: UInt32?
        public var error: String?

        public init(upstream: Upstream, serial: UInt32?, error: String?) {
            self.upstream = upstream
            self.serial = serial
            self.error = error
        }
    }

    public static func serials(of zone: DNSName = .root, from upstreams: [Upstream], timeoutMilliseconds: Int = 2000) -> [Result] {
        let deadline = monotonicMilliseconds() + timeoutMilliseconds
        var results = upstreams.map { Result(upstream: $0, serial: nil, error: "no answer within \(timeoutMilliseconds) ms") }
        var ids: [UInt16] = []
        var fds: [Int32] = []
        for (i, upstream) in upstreams.enumerated() {
            let id = UInt16.random(in: 0...UInt16.max)
            ids.append(id)
            let fd = socket(upstream.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
            let wait = deadline - monotonicMilliseconds()
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

    /// RFC 7766 framing: two length bytes, then the message.
    static func overTCP(zone: DNSName, upstream: Upstream, deadline: Int) -> Result {
        var result = Result(upstream: upstream, serial: nil, error: nil)
        let fd = socket(upstream.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { result.error = "socket: \(String(cString: strerror(errno)))"; return result }
        defer { close(fd) }
        func waitFor(_ events: Int32) -> Bool {
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let wait = deadline - monotonicMilliseconds()
            return wait > 0 && poll(&p, 1, Int32(wait)) == 1
        }
        let rc = upstream.withSockaddr { connect(fd, $0, $1) }
        guard rc == 0 || errno == EINPROGRESS, waitFor(POLLOUT) else { result.error = "TCP connect failed or timed out"; return result }
        let id = UInt16.random(in: 0...UInt16.max)
        let query = Message.query(id: id, question: Question(name: zone, type: .soa)).encoded()
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
        guard send(fd, framed, framed.count, Int32(MSG_NOSIGNAL)) == framed.count else { result.error = "TCP send failed"; return result }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < 2 || received.count < 2 + (Int(received[0]) << 8 | Int(received[1])) {
            guard waitFor(POLLIN) else { result.error = "TCP reply timed out"; return result }
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { result.error = "TCP connection closed"; return result }
            received += chunk[0..<n]
        }
        let length = Int(received[0]) << 8 | Int(received[1])
        switch interpret(Array(received[2..<(2 + length)]), id: id, zone: zone) {
        case .serial(let serial): result.serial = serial
        case .truncated: result.error = "truncated over TCP"
        case .unrelated: result.error = "unrelated TCP reply"
        case .failed(let why): result.error = why
        }
        return result
    }

    static func monotonicMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}

import Addressing
import Dispatch
import DNSWire
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Relays queries to the live root servers while the local data has
/// expired, and hands their replies back with the client's ID and question.
///
/// One thread of its own, started on first use, with one UDP socket per
/// address family: every query goes out under a fresh random ID (a client's
/// ID is not trusted to be unpredictable), and a reply is taken only from the
/// server it was sent to, with that ID and the same question. A server that
/// does not answer within `attemptMilliseconds` is replaced by the next one,
/// up to `attempts` servers; then the completion gets nil and the caller
/// answers SERVFAIL. A client that asked over TCP and gets a truncated reply
/// is asked again over TCP, off this thread. The answering threads only
/// enqueue and never wait.
final class ExpiryForwarder: Sendable {
    typealias Completion = @Sendable ([UInt8]?) -> Void

    struct Settings: Sendable {
        var attemptMilliseconds = 1000
        var attempts = 3
        /// Queries in flight at most; beyond it a query fails at once, so a
        /// flood while expired costs bounded memory.
        var maximumPending = 4096
    }

    private struct Request: Sendable {
        var query: [UInt8]
        var questionEnd: Int
        var overTCP: Bool
        var completion: Completion
    }

    private struct Pending {
        var request: Request
        var servers: [IPEndpoint]
        /// The server asked now, and how many have been asked in all.
        var index: Int
        var tried = 1
        var deadline = 0

        var server: IPEndpoint { servers[index] }
    }

    private struct State {
        var submitted: [Request] = []
        var inFlight = 0
        var thread: OSThread?
        var stopping = false
    }

    private let settings: Settings
    private let servers: @Sendable () -> [IPEndpoint]
    private let state = Mutex(State())
    /// Written to wake the thread for new requests or to stop.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let failures: @Sendable () -> Void

    /// `servers` gives the upstreams to use now, best first; `failures` is
    /// called for each query no upstream answered.
    init(settings: Settings = Settings(), servers: @escaping @Sendable () -> [IPEndpoint], failures: @escaping @Sendable () -> Void) {
        self.settings = settings
        self.servers = servers
        self.failures = failures
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Queues `query` (a parsed IN query; `questionEnd` from the parser)
    /// for relaying; `completion` runs on the forwarder's thread, or on a
    /// Dispatch worker after a TCP retry.
    func forward(_ query: [UInt8], questionEnd: Int, overTCP: Bool, completion: @escaping Completion) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping, s.inFlight < settings.maximumPending else { return false }
            s.inFlight += 1
            s.submitted.append(Request(query: query, questionEnd: questionEnd, overTCP: overTCP, completion: completion))
            if s.thread == nil { s.thread = OSThread.start { [self] in run() } }
            return true
        }
        guard accepted else {
            failures()
            completion(nil)
            return
        }
        wake()
    }

    func stop() {
        let thread = state.withLock { s -> OSThread? in
            s.stopping = true
            return s.thread
        }
        guard let thread else { return }
        wake()
        thread.join()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// The forwarder's thread: waits for new requests, replies and
    /// timeouts, and hands each to the relay.
    private func run() {
        var relay = UDPRelay(forwarder: self)
        defer { relay.close() }
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            var polls = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                + relay.sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&polls, nfds_t(polls.count), Int32(relay.millisecondsToNextDeadline()))

            while read(wakeRead, &drain, drain.count) > 0 {}
            let (requests, stopping) = state.withLock { s in
                defer { s.submitted = [] }
                return (s.submitted, s.stopping)
            }
            if stopping {
                relay.abandon(requests)
                return
            }
            relay.start(requests, on: servers())
            for (k, fd) in relay.sockets.enumerated() where fd >= 0 && polls[k + 1].revents != 0 {
                relay.receive(on: fd)
            }
            relay.retryLate()
        }
    }

    /// The TCP exchange blocks for up to one attempt's time: a Dispatch
    /// worker does it, so the UDP relaying goes on meanwhile.
    private func relayOverTCP(_ request: Request, server: IPEndpoint) {
        let deadline = DNSExchange.monotonicMilliseconds() + settings.attemptMilliseconds
        DispatchQueue.global().async { [self] in
            var query = request.query
            let id = UInt16.random(in: 0...UInt16.max)
            query[0] = UInt8(id >> 8)
            query[1] = UInt8(id & 0xFF)
            guard case .success(let reply) = DNSExchange.overTCP(query, to: server, deadline: deadline),
                  reply.count >= MessageHeader.size, reply.bigEndianUInt16(at: 0) == id,
                  Self.isReply(reply[...], to: request) else {
                finish(request, with: nil)
                return
            }
            finish(request, with: Self.restore(reply, for: request))
        }
    }

    private func finish(_ request: Request, with reply: [UInt8]?) {
        state.withLock { $0.inFlight -= 1 }
        if reply == nil { failures() }
        request.completion(reply)
    }

    /// A response with one question equal to the query's (case aside: a
    /// server may answer in its own case; the client's is put back).
    private static func isReply(_ reply: ArraySlice<UInt8>, to request: Request) -> Bool {
        let r = reply.startIndex
        let end = request.questionEnd
        guard reply.count >= end, reply[r + 2] & 0x80 != 0, reply[r + 4] == 0, reply[r + 5] == 1 else { return false }
        for i in MessageHeader.size..<end {
            var a = reply[r + i], b = request.query[i]
            if a >= 0x41 && a <= 0x5A { a |= 0x20 }
            if b >= 0x41 && b <= 0x5A { b |= 0x20 }
            guard a == b else { return false }
        }
        return true
    }

    /// The client's ID and question bytes (its 0x20 case) on the server's reply.
    private static func restore(_ reply: [UInt8], for request: Request) -> [UInt8] {
        var out = reply
        out[0] = request.query[0]
        out[1] = request.query[1]
        out.replaceSubrange(MessageHeader.size..<request.questionEnd, with: request.query[MessageHeader.size..<request.questionEnd])
        return out
    }
}

extension ExpiryForwarder {
    /// The forwarder thread's UDP side: one socket per family, the queries
    /// in flight by the ID they were sent with, each moved on to the next
    /// upstream when its attempt times out.
    private struct UDPRelay {
        let forwarder: ExpiryForwarder
        let sockets: [Int32]
        private var pending: [UInt16: Pending] = [:]
        private var buffer = [UInt8](repeating: 0, count: 65535)
        private var nextServer = 0

        init(forwarder: ExpiryForwarder) {
            self.forwarder = forwarder
            sockets = [AF_INET, AF_INET6].map { socket($0, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        }

        func close() {
            for fd in sockets where fd >= 0 { Glibc.close(fd) }
        }

        /// How long poll may sleep: until the earliest attempt times out, or for ever.
        func millisecondsToNextDeadline() -> Int {
            let now = DNSExchange.monotonicMilliseconds()
            return pending.values.map(\.deadline).min().map { max(0, $0 - now) } ?? -1
        }

        /// On stop: every query still waiting, and the new ones, get SERVFAIL.
        func abandon(_ requests: [Request]) {
            for p in pending.values { forwarder.finish(p.request, with: nil) }
            for r in requests { forwarder.finish(r, with: nil) }
        }

        mutating func start(_ requests: [Request], on available: [IPEndpoint]) {
            for request in requests {
                guard !available.isEmpty else {
                    forwarder.finish(request, with: nil)
                    continue
                }
                // Spread the load: each query starts at the next server in line.
                nextServer = (nextServer + 1) % available.count
                var p = Pending(request: request, servers: available, index: nextServer)
                if !send(&p) { retry(p) }
            }
        }

        /// Every datagram waiting on `fd`: a reply to a query in flight is
        /// relayed (over TCP again when it came truncated to a TCP client);
        /// anything else is ignored.
        mutating func receive(on fd: Int32) {
            while true {
                var from = sockaddr_storage()
                var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &fromLength) }
                }
                guard n >= 0 else { break }
                guard n >= MessageHeader.size else { continue }
                let id = buffer.bigEndianUInt16(at: 0)
                guard let p = pending[id], IPEndpoint(&from) == p.server,
                      ExpiryForwarder.isReply(buffer[0..<n], to: p.request) else { continue } // stray or spoofed: keep waiting
                pending[id] = nil
                let truncated = buffer[2] & 0x02 != 0
                if truncated && p.request.overTCP {
                    forwarder.relayOverTCP(p.request, server: p.server)
                } else {
                    forwarder.finish(p.request, with: ExpiryForwarder.restore(Array(buffer[0..<n]), for: p.request))
                }
            }
        }

        /// Queries whose attempt timed out go to their next server.
        mutating func retryLate() {
            let late = DNSExchange.monotonicMilliseconds()
            for (id, p) in pending where p.deadline <= late {
                pending[id] = nil
                retry(p)
            }
        }

        private mutating func send(_ p: inout Pending) -> Bool {
            var id: UInt16
            repeat { id = UInt16.random(in: 0...UInt16.max) } while pending[id] != nil
            var packet = p.request.query
            packet[0] = UInt8(id >> 8)
            packet[1] = UInt8(id & 0xFF)
            let fd = sockets[p.server.isIPv6 ? 1 : 0]
            let sent = fd >= 0 && p.server.withSockaddr { sendto(fd, packet, packet.count, 0, $0, $1) } == packet.count
            p.deadline = DNSExchange.monotonicMilliseconds() + forwarder.settings.attemptMilliseconds
            if sent { pending[id] = p }
            return sent
        }

        /// The next server in line for `p`, until the attempts run out.
        private mutating func retry(_ p: Pending) {
            var p = p
            while p.tried < min(forwarder.settings.attempts, p.servers.count) {
                p.index = (p.index + 1) % p.servers.count
                p.tried += 1
                if send(&p) { return }
            }
            forwarder.finish(p.request, with: nil)
        }
    }
}

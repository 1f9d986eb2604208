import Addressing
import Answering
import CNetShim
import DNSWire
import Logging
import Synchronization
import Telemetry
import TSIG
#if canImport(Glibc)
import Glibc
#endif

/// The UDP side of `serve`: per address, one SO_REUSEPORT socket and one
/// thread per worker, each a plain recvmmsg/sendmmsg loop over batches of 64.
///
/// Why not SwiftNIO here: measured on this machine, NIO's datagram path costs
/// 10.1 µs of CPU per query at 60k queries/s where this loop costs 7.4 µs
/// (bench/serve.sh; NSD needs 8 to 9 µs there), and answering a root query
/// must fit in the difference to beat NSD. So the loop makes two system
/// calls per batch, not per packet, every buffer is allocated once per
/// thread, and answering a packet allocates nothing.
final class UDPServer: @unchecked Sendable {
    /// Packets taken from the kernel per system call.
    static let batchSize = 64
    /// Receive slot size: larger than any query a resolver sends (a padded
    /// EDNS query is 468 bytes). A longer datagram arrives cut, fails to
    /// parse and gets FORMERR, which is the right answer for it anyway.
    static let receiveSlotSize = 4096

    private struct Socket {
        let address: ListenAddress
        let fd: Int32
        /// Advanced once per pass of this socket's worker (see AnsweringWatchdog).
        let pulse = Pulse()
    }

    private var sockets: [Socket] = []
    private var threads: [OSThread] = []
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger
    /// Replies a second per source prefix, per worker; 0 for no limit.
    private let rateLimit: Int

    /// Binds `workers` sockets per address now, so that a bind failure (port
    /// taken, no such address) stops `serve` at start, while still root.
    /// An idle worker wakes every `receiveTimeout` (see `bind`).
    init(addresses: [ListenAddress], workers: Int, rateLimit: Int, receiveTimeout: Duration, logger: Logger) throws(ServeError) {
        self.logger = logger
        self.rateLimit = rateLimit
        do {
            for address in addresses {
                for _ in 0..<max(1, workers) {
                    sockets.append(Socket(address: address, fd: try Self.bind(address, receiveTimeout: receiveTimeout)))
                }
            }
        } catch {
            for socket in sockets { close(socket.fd) }
            throw error
        }
    }

    /// Each worker's pulse, for the watchdog.
    var pulses: [Pulse] { sockets.map(\.pulse) }

    private static func bind(_ address: ListenAddress, receiveTimeout: Duration) throws(ServeError) -> Int32 {
        let family = address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServeError("udp socket for \(address): \(errnoDescription())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.family == .v6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        // A deeper receive queue absorbs bursts while a worker is busy with
        // the previous batch (the kernel caps it at net.core.rmem_max).
        var buffer: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        // An idle worker still wakes every `receiveTimeout`: to let go of a
        // replaced index (SO_REUSEPORT may send it nothing for hours, and the
        // old zone's memory would stay with it), and to beat for the watchdog.
        let (seconds, attoseconds) = receiveTimeout.components
        let microseconds = max(1000, Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000))
        var limit = timeval(tv_sec: microseconds / 1_000_000, tv_usec: microseconds % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let rc = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else {
            let why = errnoDescription()
            close(fd)
            throw ServeError("cannot bind udp \(address): \(why)")
        }
        return fd
    }

    func start(_ serving: ServingContext) {
        for socket in sockets {
            let fd = socket.fd
            let address = socket.address
            let pulse = socket.pulse
            threads.append(OSThread.start { [self] in
                self.serve(fd: fd, address: address, pulse: pulse, serving: serving)
            })
        }
    }

    /// Wakes every worker (shutdown makes a blocked recvmmsg return) and
    /// waits until each has sent what it had answered.
    func stop() {
        stopping.store(true, ordering: .releasing)
        for socket in sockets { shutdown(socket.fd, Int32(SHUT_RDWR)) }
        for thread in threads { thread.join() }
        for socket in sockets { close(socket.fd) }
        threads = []
        sockets = []
    }

    /// One worker's loop: a batch received, each packet classified and
    /// answered into its send slot, the batch sent. The loop stays in one
    /// piece on purpose: it is the answering path, and the per-packet step
    /// reads a dozen locals (slots, peers, limiter, facts) that a helper
    /// would take as arguments or through a context on every packet.
    private func serve(fd: Int32, address: ListenAddress, pulse: Pulse, serving: ServingContext) {
        let responder = serving.responder
        let metrics = serving.metrics
        let expiry = serving.expiry
        let buffers = BatchBuffers(batch: Self.batchSize, receiveSlot: Self.receiveSlotSize,
                                   // The responder never writes more than its UDP maximum (512 bytes
                                   // without EDNS, never more than `maximumUDPPayload` with it).
                                   sendSlot: (responder.maximumUDPPayload + 63) & ~63)
        defer { buffers.deallocate() }
        let (batch, rxSize, txSize) = (buffers.batch, buffers.receiveSlot, buffers.sendSlot)
        let (rx, tx, peers, txIov, rxMsgs, txMsgs) = (buffers.rx, buffers.tx, buffers.peers, buffers.txIov, buffers.rxMsgs, buffers.txMsgs)
        let peerSize = BatchBuffers.peerSize

        let requests = serving.secondaryRequests
        // As NSD's default slip: every second query over the rate gets TC.
        let limiter = rateLimit > 0 ? RateLimiter(rate: rateLimit, slip: 2) : nil
        var view = ZoneView(serving.holder)
        var reportedError: Int32 = 0
        while true {
            let received = cnet_recvmmsg(fd, rxMsgs, UInt32(batch), CNET_MSG_WAITFORONE, nil)
            pulse.beat()
            if stopping.load(ordering: .acquiring) { break }
            view.pickUpNewGeneration()
            if received <= 0 {
                let code = errno
                if received < 0 && code != EINTR && code != EAGAIN && code != reportedError {
                    // Logged once per distinct error, not per packet.
                    reportedError = code
                    logger.error("udp receive on \(address) failed", metadata: ["error": "\(errnoDescription(code))"])
                }
                continue
            }
            let zone = view.zone
            let intercepting = expiry.isIntercepting
            let facts = TransportFacts(transport: .udp, transfers: requests != nil, intercepting: intercepting,
                                       forwarding: expiry.forwarder != nil)
            let second = limiter == nil ? 0 : RateLimiter.currentSecond()
            var replies = 0
            for i in 0..<Int(received) {
                let query = UnsafeRawBufferPointer(start: rx + i * rxSize, count: Int(rxMsgs[i].msg_len))
                let slot = UnsafeMutableRawBufferPointer(start: tx + replies * txSize, count: txSize)
                // The kernel wrote the peer's address length; the next receive needs the full size back.
                let peerLength = rxMsgs[i].msg_hdr.msg_namelen
                rxMsgs[i].msg_hdr.msg_namelen = peerSize
                let verdict = limiter?.admit(peers + i, second: second) ?? .answer
                if verdict == .drop {
                    metrics.recordRateLimited(slipped: false)
                    continue
                }
                var reply: Reply
                if verdict == .slip {
                    metrics.recordRateLimited(slipped: true)
                    reply = responder.slip(to: query, into: slot)
                } else {
                    switch responder.classify(query, zone: zone, facts: facts, into: slot) {
                    case .reply(let answered):
                        reply = answered
                    case .notify:
                        reply = serving.notifications.answer(query, from: IPEndpoint(peers + i), responder: responder, into: slot)
                    case .soaCheck(let q, let answered):
                        let client = IPEndpoint(peers + i)
                        reply = requests!.answerSOACheck(q, packet: query, reply: answered, from: client,
                                                         allowed: client.map { requests!.log.allows($0.address) } ?? false, into: slot)
                    case .transfer(let q, let transfer):
                        reply = incrementalOverUDP(q, packet: query, transfer: transfer, from: IPEndpoint(peers + i), requests: requests!,
                                                   intercepting: intercepting, payload: responder.maximumUDPPayload, into: slot)
                    case .forward(let q):
                        metrics.forwarded.increment()
                        let peer = Peer(address: peers[i], length: peerLength)
                        expiry.forward(q, packet: query, overTCP: false, responder: responder) { bytes in
                            peer.send(bytes, on: fd)
                        }
                        continue
                    }
                }
                metrics.record(reply, transport: .udp)
                guard reply.length > 0 else { continue }
                txIov[replies].iov_len = reply.length
                txMsgs[replies].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + i)
                txMsgs[replies].msg_hdr.msg_namelen = peerLength
                replies += 1
            }
            Self.sendAll(txMsgs, count: replies, on: fd)
        }
    }

    /// Sends the first `count` prepared replies; a datagram that cannot go
    /// (peer gone, no route) is skipped and the rest still sent.
    private static func sendAll(_ messages: UnsafeMutablePointer<cnet_mmsghdr>, count: Int, on fd: Int32) {
        var sent = 0
        while sent < count {
            let n = cnet_sendmmsg(fd, messages + sent, UInt32(count - sent), 0)
            if n > 0 {
                sent += Int(n)
            } else if errno != EINTR {
                sent += 1
            }
        }
    }
}

/// IXFR over UDP (RFC 1995 §2): the current SOA alone, whatever serial
/// the client holds. A client that is behind sees a newer serial and asks
/// again over TCP, where the differences go.
private func incrementalOverUDP(_ query: IncomingQuery, packet: UnsafeRawBufferPointer, transfer: ZoneTransfer, from client: IPEndpoint?,
                                requests: SecondaryRequests, intercepting: Bool, payload: Int,
                                into slot: UnsafeMutableRawBufferPointer) -> Reply {
    let allowed = client.map { requests.log.allows($0.address) } ?? false
    switch requests.admit(query, packet: packet, from: client, allowed: allowed, intercepting: intercepting, into: slot) {
    case .refused(let reply):
        return reply
    case .granted(_, _, let signer):
        var length = transfer.soaOnly.write(0, replyingTo: query, packet: packet, payload: payload, into: slot)
        if var signer { length = signer.sign(slot, length: length) ?? length }
        requests.log.transfer(client!, kind: .ixfr, outcome: .ok, serial: transfer.serial, bytes: length, now: Int64(time(nil)))
        return Reply(length: length, kind: .answer, rcode: .noError, truncated: false)
    }
}

/// A client's address, kept for a reply sent later (a forwarded query's).
private struct Peer: @unchecked Sendable {
    var address: sockaddr_storage
    var length: socklen_t

    func send(_ bytes: [UInt8], on fd: Int32) {
        var address = address
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, length) }
        }
    }
}

/// An error that stops `serve` at start, printed as one line.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A worker's receive and send buffers for recvmmsg/sendmmsg, allocated
/// once per worker: slot `i` of `rx` receives into `rxMsgs[i]` with its
/// peer in `peers[i]`; replies are written into `tx`'s slots and listed in
/// `txMsgs`, their lengths set per batch.
struct BatchBuffers {
    static let peerSize = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let batch: Int
    let receiveSlot: Int
    let sendSlot: Int
    let rx: UnsafeMutableRawPointer
    let tx: UnsafeMutableRawPointer
    let peers: UnsafeMutablePointer<sockaddr_storage>
    let rxIov: UnsafeMutablePointer<iovec>
    let txIov: UnsafeMutablePointer<iovec>
    let rxMsgs: UnsafeMutablePointer<cnet_mmsghdr>
    let txMsgs: UnsafeMutablePointer<cnet_mmsghdr>

    init(batch: Int, receiveSlot: Int, sendSlot: Int) {
        self.batch = batch
        self.receiveSlot = receiveSlot
        self.sendSlot = sendSlot
        rx = UnsafeMutableRawPointer.allocate(byteCount: batch * receiveSlot, alignment: 64)
        tx = UnsafeMutableRawPointer.allocate(byteCount: batch * sendSlot, alignment: 64)
        peers = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        rxIov = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        txIov = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        rxMsgs = UnsafeMutablePointer<cnet_mmsghdr>.allocate(capacity: batch)
        txMsgs = UnsafeMutablePointer<cnet_mmsghdr>.allocate(capacity: batch)
        for i in 0..<batch {
            rxIov[i] = iovec(iov_base: rx + i * receiveSlot, iov_len: receiveSlot)
            txIov[i] = iovec(iov_base: tx + i * sendSlot, iov_len: 0)
            rxMsgs[i] = cnet_mmsghdr()
            rxMsgs[i].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + i)
            rxMsgs[i].msg_hdr.msg_namelen = Self.peerSize
            rxMsgs[i].msg_hdr.msg_iov = rxIov + i
            rxMsgs[i].msg_hdr.msg_iovlen = 1
            txMsgs[i] = cnet_mmsghdr()
            txMsgs[i].msg_hdr.msg_iov = txIov + i
            txMsgs[i].msg_hdr.msg_iovlen = 1
        }
    }

    func deallocate() {
        rx.deallocate(); tx.deallocate(); peers.deallocate()
        rxIov.deallocate(); txIov.deallocate(); rxMsgs.deallocate(); txMsgs.deallocate()
    }
}

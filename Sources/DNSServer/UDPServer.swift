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

    private func serve(fd: Int32, address: ListenAddress, pulse: Pulse, serving: ServingContext) {
        let responder = serving.responder
        let metrics = serving.metrics
        let expiry = serving.expiry
        let batch = Self.batchSize
        let rxSize = Self.receiveSlotSize
        // The responder never writes more than its UDP maximum (512 bytes
        // without EDNS, never more than `maximumUDPPayload` with it).
        let txSize = (responder.maximumUDPPayload + 63) & ~63
        let rx = UnsafeMutableRawPointer.allocate(byteCount: batch * rxSize, alignment: 64)
        let tx = UnsafeMutableRawPointer.allocate(byteCount: batch * txSize, alignment: 64)
        let peers = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        let rxIov = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let txIov = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let rxMsgs = UnsafeMutablePointer<cnet_mmsghdr>.allocate(capacity: batch)
        let txMsgs = UnsafeMutablePointer<cnet_mmsghdr>.allocate(capacity: batch)
        defer {
            rx.deallocate(); tx.deallocate(); peers.deallocate()
            rxIov.deallocate(); txIov.deallocate(); rxMsgs.deallocate(); txMsgs.deallocate()
        }
        let peerSize = socklen_t(MemoryLayout<sockaddr_storage>.size)
        for i in 0..<batch {
            rxIov[i] = iovec(iov_base: rx + i * rxSize, iov_len: rxSize)
            txIov[i] = iovec(iov_base: tx + i * txSize, iov_len: 0)
            rxMsgs[i] = cnet_mmsghdr()
            rxMsgs[i].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + i)
            rxMsgs[i].msg_hdr.msg_namelen = peerSize
            rxMsgs[i].msg_hdr.msg_iov = rxIov + i
            rxMsgs[i].msg_hdr.msg_iovlen = 1
            txMsgs[i] = cnet_mmsghdr()
            txMsgs[i].msg_hdr.msg_iov = txIov + i
            txMsgs[i].msg_hdr.msg_iovlen = 1
        }

        let secondaries = serving.secondaries
        // As NSD's default slip: every second query over the rate gets TC.
        let limiter = rateLimit > 0 ? RateLimiter(rate: rateLimit, slip: 2) : nil
        var view = ZoneView(serving.holder)
        var reportedError: Int32 = 0
        while true {
            let received = cnet_recvmmsg(fd, rxMsgs, UInt32(batch), CNET_MSG_WAITFORONE, nil)
            pulse.beat()
            if stopping.load(ordering: .acquiring) { break }
            view.refresh()
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
                    switch expiry.handling(of: query, intercepting: intercepting) {
                    case .local where NotifyReceiver.isNotify(query):
                        reply = serving.notifications.answer(query, from: IPEndpoint(peers + i), responder: responder, into: slot)
                    case .local:
                        reply = responder.respond(to: query, zone: zone, transport: .udp, into: slot)
                        // A secondary's SOA check (`. SOA`: a root name, then type 6): rare, so looked at closely.
                        if let secondaries, query.count > 16, query[12] == 0, query[13] == 0, query[14] == 6 {
                            reply.length = secondarySOA(query, reply: reply.length, peer: peers + i, log: secondaries, expiry: expiry,
                                                        guard: serving.transferGuard, logger: logger, into: slot)
                        }
                        // `. IXFR` (type 251) from a secondary: the SOA alone (RFC 1995 §2).
                        if !intercepting, let secondaries, let transfer = zone.transfer, query.count > 16, query[12] == 0, query[13] == 0, query[14] == 251,
                           let length = incrementalOverUDP(query, transfer: transfer, peer: peers + i, log: secondaries,
                                                           guard: serving.transferGuard, logger: logger, payload: responder.maximumUDPPayload,
                                                           into: slot) {
                            reply = Reply(length: length, kind: .answer, rcode: .noError, truncated: false)
                        }
                    case .serverFailure(let q):
                        reply = responder.serverFailure(to: q, packet: query, into: slot)
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
            var sent = 0
            while sent < replies {
                let n = cnet_sendmmsg(fd, txMsgs + sent, UInt32(replies - sent), 0)
                if n > 0 {
                    sent += Int(n)
                } else if errno != EINTR {
                    // This datagram cannot be sent (peer gone, no route): skip it, send the rest.
                    sent += 1
                }
            }
        }
    }
}

/// An SOA query from a client with transfer rights is noted for `/health`,
/// and told the time its data may still be served when it asks (RFC 7314:
/// BIND's `request-expire` asks in its SOA checks); the reply's new length.
/// With `--transfer-key`, a signed one gets a signed reply (or the TSIG
/// error), as secondaries that sign their SOA checks require.
private func secondarySOA(_ query: UnsafeRawBufferPointer, reply length: Int, peer: UnsafePointer<sockaddr_storage>,
                          log: SecondaryLog, expiry: ExpiryState, guard transferGuard: TransferGuard, logger: Logger,
                          into slot: UnsafeMutableRawBufferPointer) -> Int {
    guard length > 0, let client = IPEndpoint(peer), log.allows(client.address) else { return length }
    var signer: TSIGSigner?
    switch transferGuard.judge(query, required: false) {
    case .allowed(let tsig): signer = tsig
    case .refused: break
    case .failed(let reply, let reason):
        logger.notice("signed SOA query refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
        return TransferGuard.write(reply, into: slot).length
    }
    let now = Int64(time(nil))
    log.askedSOA(client, now: now)
    var length = length
    if case .query(let parsed) = QueryParser.parse(query), parsed.edns?.expire == true, let seconds = expiry.expireSeconds(now: now) {
        length = EDNSOption.append(EDNSOption.expire(seconds: seconds), toReplyOf: length, in: slot) ?? length
    }
    if var signer { length = signer.sign(slot, length: length) ?? length }
    return length
}

/// IXFR over UDP from a client with transfer rights (RFC 1995 §2): the
/// current SOA alone, whatever serial it holds. A client that is behind
/// sees a newer serial and asks again over TCP, where the differences
/// go; nil (the responder's REFUSED stands) for anyone else.
private func incrementalOverUDP(_ query: UnsafeRawBufferPointer, transfer: ZoneTransfer, peer: UnsafePointer<sockaddr_storage>,
                                log: SecondaryLog, guard transferGuard: TransferGuard, logger: Logger, payload: Int,
                                into slot: UnsafeMutableRawBufferPointer) -> Int? {
    guard let client = IPEndpoint(peer), log.allows(client.address), case .query(let parsed) = QueryParser.parse(query),
          transfer.isRequested(by: parsed, in: query) else { return nil }
    var signer: TSIGSigner?
    switch transferGuard.judge(query, required: true) {
    case .allowed(let tsig): signer = tsig
    case .refused(let reason):
        logger.notice("transfer refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
        return nil
    case .failed(let reply, let reason):
        logger.notice("transfer refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
        return TransferGuard.write(reply, into: slot).length
    }
    let now = Int64(time(nil))
    log.requested(client, holding: ZoneTransfer.heldSerial(in: query), now: now)
    var length = transfer.soaOnly.write(0, replyingTo: parsed, packet: query, payload: payload, into: slot)
    if var signer { length = signer.sign(slot, length: length) ?? length }
    log.transfer(client, kind: .ixfr, outcome: .ok, serial: transfer.serial, bytes: length, now: now)
    return length
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

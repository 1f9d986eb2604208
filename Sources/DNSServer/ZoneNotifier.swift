import Addressing
import CNetShim
import DNSWire
import Logging
import TSIG
#if canImport(Glibc)
import Glibc
#endif

/// `serve --notify`: after a reload, tells the secondaries that the zone
/// changed (NOTIFY, RFC 1996), so that they ask for the new serial at once
/// instead of at their next SOA refresh.
///
/// Each message leaves from the first listen address of the target's
/// family: secondaries accept NOTIFY only from their primary's address.
/// Unacknowledged messages are sent again after 1, 2, 4 and 8 seconds (RFC
/// 1996 §3.6 leaves the schedule to the primary), on a thread of their own:
/// the reload that triggered them never waits.
struct ZoneNotifier: Sendable {
    let targets: [IPEndpoint]
    let sources: [ListenAddress]
    /// `--transfer-key`: each NOTIFY signed with it, each answer checked.
    let key: TSIGKey?
    let logger: Logger

    static let roundsMilliseconds = [1000, 2000, 4000, 8000, 8000]

    func announce(_ soa: ResourceRecord) {
        guard !targets.isEmpty else { return }
        OSThread.detach { [self] in send(soa) }
    }

    private func send(_ soa: ResourceRecord) {
        let id = UInt16.random(in: 0...UInt16.max)
        var message = Message(header: MessageHeader(id: id, flags: UInt16(4) << 11 | MessageHeader.aaBit))
        message.questions = [Question(name: soa.owner, type: .soa)]
        message.answers = [soa]
        var bytes = message.encoded()
        var requestMAC: [UInt8]?
        if let key { (bytes, requestMAC) = key.sign(request: bytes) }
        let serial = SOAFields(rdata: soa.rdata)?.serial ?? 0

        let sockets = targets.map(socket(to:))
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        var waiting = Set(sockets.indices.filter { sockets[$0] >= 0 })
        var answers: [Int: RCode] = [:]
        var unverified: [Int: String] = [:]
        var reply = [UInt8](repeating: 0, count: 512)
        for round in Self.roundsMilliseconds where !waiting.isEmpty {
            for i in waiting { _ = Glibc.send(sockets[i], bytes, bytes.count, 0) }
            let deadline = DNSExchange.monotonicMilliseconds() + round
            while !waiting.isEmpty {
                let wait = deadline - DNSExchange.monotonicMilliseconds()
                guard wait > 0 else { break }
                let order = Array(waiting)
                var polls = order.map { pollfd(fd: sockets[$0], events: Int16(POLLIN), revents: 0) }
                guard poll(&polls, nfds_t(polls.count), Int32(wait)) > 0 else { continue }
                for (k, p) in polls.enumerated() where p.revents != 0 {
                    let n = recv(sockets[order[k]], &reply, reply.count, 0)
                    // The acknowledgement: our ID, a response, opcode NOTIFY.
                    if n >= MessageHeader.size, reply.bigEndianUInt16(at: 0) == id, reply[2] & 0x80 != 0,
                       (reply[2] >> 3) & 0xF == 4 {
                        waiting.remove(order[k])
                        answers[order[k]] = RCode(rawValue: UInt16(reply[3] & 0xF))
                        if let key, let requestMAC {
                            var verifier = TSIGReplyVerifier(key: key, requestMAC: requestMAC)
                            do throws(TSIGFailure) {
                                _ = try verifier.verify(Array(reply[0..<n]))
                                try verifier.finish()
                            } catch {
                                unverified[order[k]] = error.description
                            }
                        }
                    }
                }
            }
        }
        for (i, target) in targets.enumerated() where sockets[i] >= 0 {
            if waiting.contains(i) {
                logger.warning("notify not acknowledged", metadata: ["to": "\(target)", "serial": "\(serial)"])
            } else if let why = unverified[i] {
                // Not from the secondary that holds the key: no acknowledgement.
                logger.warning("notify answer not signed by the key", metadata: ["to": "\(target)", "serial": "\(serial)", "error": "\(why)"])
            } else if let rcode = answers[i], rcode != .noError {
                // A secondary that answers REFUSED or NOTIMP will not follow: not an acknowledgement.
                logger.warning("notify answered \(rcode)", metadata: ["to": "\(target)", "serial": "\(serial)"])
            } else {
                logger.info("notify acknowledged", metadata: ["to": "\(target)", "serial": "\(serial)"])
            }
        }
    }

    /// A UDP socket connected to `target`, bound to the first listen
    /// address of its family; -1 when that fails.
    private func socket(to target: IPEndpoint) -> Int32 {
        let fd = Glibc.socket(target.socketFamily, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return failed(fd, target) }
        if let source = sources.first(where: { $0.family == target.family }) {
            let local = IPEndpoint(address: source.endpoint.address, port: 0)
            guard local.withSockaddr({ bind(fd, $0, $1) }) == 0 else { return failed(fd, target) }
        }
        guard target.withSockaddr({ connect(fd, $0, $1) }) == 0 else { return failed(fd, target) }
        return fd
    }

    private func failed(_ fd: Int32, _ target: IPEndpoint) -> Int32 {
        logger.warning("notify not sent", metadata: ["to": "\(target)", "error": "\(errnoDescription())"])
        close(fd)
        return -1
    }
}

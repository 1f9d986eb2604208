import Addressing
import Answering
import DNSWire
import Synchronization

/// What `serve` does with queries once the served data has expired (no
/// successful refresh for longer than the zone's SOA EXPIRE).
public enum ExpiryAction: String, Sendable, CaseIterable {
    /// Relay each query to the live roots and their answer back: the
    /// resolver keeps working, including the refresh that will heal it
    /// (`refresh` resolves www.internic.net through that very resolver).
    case forward
    /// Answer SERVFAIL: RFC 8806's "stop serving", at the cost of the
    /// resolver failing until someone refreshes by hand.
    case servfail
    /// Keep answering from the expired data (the classic tinydns setup).
    case serve
}

/// The switch between answering from data.cdb and the expiry action,
/// shared by the watcher thread (which decides) and the transports (which
/// read it once per batch or connection read: one atomic load).
final class ExpiryState: Sendable {
    let action: ExpiryAction
    let forwarder: ExpiryForwarder?
    private let expired = Atomic<Bool>(false)
    /// When the served data's SOA expire runs out, counted from its last
    /// confirmation; 0 before the first judgement.
    private let expiresAt = Atomic<Int64>(0)

    init(action: ExpiryAction, forwarder: ExpiryForwarder?) {
        self.action = action
        self.forwarder = forwarder
    }

    /// True when the data has expired and the action is not to serve it anyway.
    @inline(__always)
    var isIntercepting: Bool { action != .serve && expired.load(ordering: .relaxed) }

    var isExpired: Bool { expired.load(ordering: .relaxed) }

    func set(expired value: Bool) { expired.store(value, ordering: .relaxed) }

    func set(expiresAt time: Int64) { expiresAt.store(time, ordering: .relaxed) }

    /// RFC 7314's EXPIRE for the data served now: the seconds left, never
    /// negative; nil before the data has been judged.
    func expireSeconds(now: Int64) -> UInt32? {
        let at = expiresAt.load(ordering: .relaxed)
        guard at > 0 else { return nil }
        return UInt32(clamping: max(0, at - now))
    }

    /// What the server does with queries now, for `/health` and logs.
    var mode: String { isIntercepting ? action.rawValue : "serve" }

    /// Relays `query` and sends what comes back, or SERVFAIL when no live
    /// root answered, through `send` (which runs on the forwarder's thread).
    func forward(_ query: IncomingQuery, packet: UnsafeRawBufferPointer, overTCP: Bool, responder: Responder,
                 send: @escaping @Sendable ([UInt8]) -> Void) {
        let bytes = Array(packet)
        forwarder!.forward(bytes, questionEnd: query.questionEnd, overTCP: overTCP) { reply in
            if let reply {
                send(reply)
                return
            }
            var failure = [UInt8](repeating: 0, count: query.questionEnd + 64)
            let length = bytes.withUnsafeBytes { packet in
                failure.withUnsafeMutableBytes { responder.serverFailure(to: query, packet: packet, into: $0).length }
            }
            send(Array(failure[..<length]))
        }
    }
}

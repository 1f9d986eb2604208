import Addressing
import Answering
import DNSWire
import Logging
import TSIG

/// NOTIFY in (RFC 1996): a rootmirror that follows a primary (`serve
/// --refresh` from `axfr://` sources) refreshes as soon as its primary says
/// the zone changed, not at its next SOA check. Only the primaries it
/// refreshes from (and its `--upstream`s) are heard; anyone else is
/// REFUSED, and so is everyone when the server follows no one.
///
/// The answering thread only acknowledges and raises a flag: the refresh
/// runs on `SelfRefresh`'s thread, one at a time, with at most one more
/// queued however many NOTIFYs come.
struct NotifyReceiver: Sendable {
    /// Addresses whose NOTIFY starts a refresh.
    let primaries: [[UInt8]]
    let refresh: SelfRefresh?
    let logger: Logger
    /// With `--transfer-key`, a NOTIFY must be signed by it, and the acknowledgement is.
    let transferGuard: TransferGuard

    /// The reply to a NOTIFY from `peer`, written into `out`.
    func answer(_ packet: UnsafeRawBufferPointer, from peer: IPEndpoint?, responder: Responder,
                into out: UnsafeMutableRawBufferPointer) -> Reply {
        let from = peer.map(\.description) ?? "?"
        let heard = refresh != nil && peer.map { primaries.contains($0.address) } == true
        var signer: TSIGSigner?
        var refusal = heard ? nil : refresh == nil ? "this server follows no primary (no --refresh)" : "not a primary this server refreshes from"
        if heard {
            switch transferGuard.judge(packet, required: true) {
            case .allowed(let tsig): signer = tsig
            case .refused(let reason): refusal = reason
            case .failed(let bytes, let reason):
                logger.notice("notify refused", metadata: ["from": "\(from)", "reason": "\(reason)"])
                return TransferGuard.write(bytes, into: out)
            }
        }
        var reply = responder.notifyReply(to: packet, accepted: refusal == nil, into: out)
        if let refusal {
            logger.notice("notify refused", metadata: ["from": "\(from)", "reason": "\(refusal)"])
            return reply
        }
        if reply.rcode == .noError, let peer, let refresh {
            refresh.notified(by: "\(peer.host)")
            if var signer, let length = signer.sign(out, length: reply.length) { reply.length = length }
        }
        return reply
    }
}

import Addressing
import Answering
import DNSWire
import Logging
import Telemetry
import TSIG
#if canImport(Glibc)
import Glibc
#endif

/// What a secondary asks, judged in one place for UDP and TCP: a transfer
/// is granted or refused, an SOA check noted, told the data's time left
/// and signed. Only the sending differs: TCP streams a granted transfer,
/// UDP sends an IXFR's SOA alone (RFC 1995 §2).
struct SecondaryRequests: Sendable {
    let log: SecondaryLog
    let transferGuard: TransferGuard
    let expiry: ExpiryState
    let responder: Responder
    let logger: Logger

    enum Admission {
        /// Send the transfer; sign each message with `signer` when there is one.
        case granted(kind: SecondaryLog.Kind, held: UInt32?, signer: TSIGSigner?)
        /// The refusal (REFUSED, or the TSIG error) is in the buffer.
        case refused(Reply)
    }

    /// Judges a transfer request from `client` (`allowed`: it has transfer
    /// rights): refused without rights, without the `--transfer-key`
    /// signature, or on expired data (unless `--on-expiry serve` keeps
    /// serving it), so that no data with a fresh clock leaves the host.
    func admit(_ query: IncomingQuery, packet: UnsafeRawBufferPointer, from client: IPEndpoint?, allowed: Bool,
               intercepting: Bool, into out: UnsafeMutableRawBufferPointer) -> Admission {
        let kind: SecondaryLog.Kind = query.qtype == .ixfr ? .ixfr : .axfr
        guard allowed, let client else {
            log.refused(kind)
            return .refused(responder.refusal(to: query, packet: packet, into: out))
        }
        let now = Int64(time(nil))
        let held = kind == .ixfr ? ZoneTransfer.heldSerial(in: packet) : nil
        var signer: TSIGSigner?
        switch transferGuard.judge(packet, required: true) {
        case .allowed(let tsig): signer = tsig
        case .refused(let reason):
            logger.notice("transfer refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
            log.transfer(client, kind: kind, outcome: .refused, serial: held, bytes: 0, now: now)
            return .refused(responder.refusal(to: query, packet: packet, into: out))
        case .failed(let bytes, let reason):
            logger.notice("transfer refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
            log.transfer(client, kind: kind, outcome: .refused, serial: held, bytes: 0, now: now)
            return .refused(TransferGuard.write(bytes, into: out))
        }
        guard !intercepting else {
            log.transfer(client, kind: kind, outcome: .refused, serial: held, bytes: 0, now: now)
            return .refused(responder.refusal(to: query, packet: packet, into: out))
        }
        log.requested(client, holding: held, now: now)
        return .granted(kind: kind, held: held, signer: signer)
    }

    /// An SOA query (its `reply` in `out`) from a client with transfer
    /// rights is noted for `/health`, and told the time its data may still
    /// be served when it asks (RFC 7314: BIND's `request-expire` asks in
    /// its SOA checks). With `--transfer-key`, a signed one gets a signed
    /// reply (or the TSIG error), as secondaries that sign their SOA checks
    /// require. Anyone else's reply stands.
    func answerSOACheck(_ query: IncomingQuery, packet: UnsafeRawBufferPointer, reply: Reply, from client: IPEndpoint?,
                        allowed: Bool, into out: UnsafeMutableRawBufferPointer) -> Reply {
        guard allowed, let client else { return reply }
        var signer: TSIGSigner?
        switch transferGuard.judge(packet, required: false) {
        case .allowed(let tsig): signer = tsig
        case .refused: break
        case .failed(let bytes, let reason):
            logger.notice("signed SOA query refused", metadata: ["client": "\(client)", "reason": "\(reason)"])
            return TransferGuard.write(bytes, into: out)
        }
        let now = Int64(time(nil))
        log.askedSOA(client, now: now)
        var reply = reply
        if query.edns?.expire == true, let seconds = expiry.expireSeconds(now: now),
           let length = EDNSOption.append(EDNSOption.expire(seconds: seconds), toReplyOf: reply.length, in: out) {
            reply.length = length
        }
        if var signer, let length = signer.sign(out, length: reply.length) { reply.length = length }
        return reply
    }
}

import Answering
import DNSWire
import TSIG

/// `serve --transfer-key NAME`: who may transfer the zone, and how the
/// replies are signed (RFC 8945). With a key, a transfer (AXFR, IXFR) or
/// a NOTIFY must carry a valid TSIG by it, and every message sent back is
/// signed; an SOA query a secondary signs (NSD, Knot and BIND do, with the
/// key of their primary) gets a signed reply. A TSIG that fails gets the
/// RFC's error reply, never the data. Without a key, TSIG is not looked at.
struct TransferGuard: Sendable {
    let key: TSIGKey?
    /// The key as the verifier takes it, built once rather than per request.
    private let keyring: TSIGKeyring

    init(key: TSIGKey?) {
        self.key = key
        keyring = TSIGKeyring(key.map { [$0] } ?? [])
    }

    enum Verdict {
        /// Go on; sign the reply with the signer when there is one.
        case allowed(TSIGSigner?)
        /// Unsigned where a signature is required: the usual REFUSED.
        case refused(reason: String)
        /// A signature that fails: send this reply (NOTAUTH and the TSIG error).
        case failed(reply: [UInt8], reason: String)
    }

    /// Whether `packet` may have what it asks; `required`: an unsigned
    /// request is refused (transfers, NOTIFY), else answered unsigned (SOA).
    func judge(_ packet: UnsafeRawBufferPointer, required: Bool) -> Verdict {
        guard let key else { return .allowed(nil) }
        switch keyring.verify(request: Array(packet)) {
        case .valid(let key, let requestMAC):
            return .allowed(TSIGSigner(key: key, requestMAC: requestMAC))
        case .unsigned:
            return required ? .refused(reason: "not signed by key \(key.name)") : .allowed(nil)
        case .refused(let refusal):
            return .failed(reply: refusal.reply(), reason: refusal.description)
        }
    }

    /// `reply` (a failure's) copied into `out`, as the responder's replies are.
    static func write(_ reply: [UInt8], into out: UnsafeMutableRawBufferPointer) -> Reply {
        let length = min(reply.count, out.count)
        reply.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return Reply(length: length, kind: .refused, rcode: .notAuth, truncated: false)
    }
}

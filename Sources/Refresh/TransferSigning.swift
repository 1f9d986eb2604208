import TSIG

/// `refresh --transfer-key NAME`: the queries to a primary signed with the
/// key (RFC 8945), and every message that comes back verified before it is
/// read; without a key, both pass through. A reply that fails is the
/// primary's (or an impostor's) fault: the transfer stops there.
struct TransferSigning {
    let key: TSIGKey?
    private var verifier: TSIGReplyVerifier?

    init(key: TSIGKey?) {
        self.key = key
    }

    mutating func sign(_ query: [UInt8]) -> [UInt8] {
        guard let key else { return query }
        let (signed, mac) = key.sign(request: query)
        verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        return signed
    }

    /// `message` without its TSIG, once verified.
    mutating func verify(_ message: [UInt8]) throws(TSIGFailure) -> [UInt8] {
        guard verifier != nil else { return message }
        return try verifier!.verify(message)
    }

    /// After the last message: it must have been signed.
    func finish() throws(TSIGFailure) {
        try verifier?.finish()
    }
}

import _CryptoExtras
import Crypto
import FoundationEssentials

/// One DNSKEY of the zone, its public key read once into swift-crypto's
/// form, so that checking 4,000 signatures parses each key once.
struct ZoneKey: Sendable {
    enum PublicKey: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    let rdata: [UInt8]
    let flags: UInt16
    let algorithm: UInt8
    let keyTag: UInt16
    /// Nil when the algorithm is not one we can check, or the key does not
    /// read; `problem` says which.
    let publicKey: PublicKey?
    let problem: String?

    /// RFC 4034 §2.1.1: bit 7, the zone key flag; only zone keys sign RRsets.
    var isZoneKey: Bool { flags & 0x0100 != 0 }
    /// RFC 5011 §3: bit 8, REVOKE. A revoked key is no trust anchor and
    /// signs nothing but the DNSKEY set that announces its revocation.
    var isRevoked: Bool { flags & 0x0080 != 0 }
    /// RFC 4034 §2.1.1: bit 15, SEP: a key-signing key, what an anchor names.
    var isSecureEntryPoint: Bool { flags & 0x0001 != 0 }

    /// RSA/SHA-256, RSA/SHA-512, ECDSA P-256 and P-384, Ed25519.
    static let supportedAlgorithms: Set<UInt8> = [8, 10, 13, 14, 15]

    init(rdata: [UInt8]) {
        self.rdata = rdata
        flags = rdata.count >= 2 ? rdata.bigEndianUInt16(at: 0) : 0
        algorithm = rdata.count >= 4 ? rdata[3] : 0
        keyTag = Self.keyTag(rdata)
        let key = rdata.count > 4 ? Array(rdata[4...]) : []
        var problem: String?
        do {
            publicKey = try Self.publicKey(algorithm: algorithm, key: key)
        } catch let unsupported as Unsupported {
            publicKey = nil
            problem = unsupported.reason
        } catch {
            publicKey = nil
            problem = "DNSKEY with key tag \(keyTag) does not read as an algorithm \(algorithm) key"
        }
        self.problem = problem
    }

    /// RFC 4034 Appendix B (algorithm 1's exception is moot: it is not supported).
    static func keyTag(_ rdata: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for (i, b) in rdata.enumerated() { sum += i & 1 == 0 ? UInt32(b) << 8 : UInt32(b) }
        sum += sum >> 16 & 0xFFFF
        return UInt16(sum & 0xFFFF)
    }

    struct Unsupported: Error { var reason: String }

    /// RSA keys of 1,024 bits are accepted (swift-crypto's `n:e:` initialiser
    /// refuses them; its DER one, marked unsafe, does not): RFC 8624 makes
    /// RSA/SHA-256 validation mandatory without a key-size floor, signed
    /// zones still carry 1,024-bit ZSKs, and BIND, Unbound and ldns validate
    /// them. Refusing them would fail zones the references accept. What is
    /// smaller than that BoringSSL refuses, and so do we.
    static func publicKey(algorithm: UInt8, key: [UInt8]) throws -> PublicKey {
        switch algorithm {
        case 8, 10:
            // RFC 3110 §2: exponent length (one byte, or zero then two), exponent, modulus.
            guard let first = key.first else { throw Unsupported(reason: "empty RSA key") }
            var at = 1
            var exponentLength = Int(first)
            if first == 0 {
                guard key.count >= 3 else { throw Unsupported(reason: "truncated RSA key") }
                exponentLength = Int(key.bigEndianUInt16(at: 1))
                at = 3
            }
            guard exponentLength > 0, key.count > at + exponentLength else { throw Unsupported(reason: "truncated RSA key") }
            let exponent = key[at..<(at + exponentLength)]
            let modulus = key[(at + exponentLength)...]
            return .rsa(try _RSA.Signing.PublicKey(unsafeDERRepresentation: pkcs1DER(modulus: modulus, exponent: exponent)))
        case 13: return .p256(try P256.Signing.PublicKey(rawRepresentation: key))
        case 14: return .p384(try P384.Signing.PublicKey(rawRepresentation: key))
        case 15: return .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: key))
        default: throw Unsupported(reason: "unsupported algorithm \(algorithm)")
        }
    }

    /// Whether `signature` is this key's over `data` (the RRSIG's rdata
    /// without its signature, then the RRset in canonical form).
    func verifies(_ signature: some DataProtocol, over data: UnsafeRawBufferPointer) -> Bool {
        switch publicKey {
        case .rsa(let key):
            let signature = _RSA.Signing.RSASignature(rawRepresentation: signature)
            return algorithm == 8
                ? key.isValidSignature(signature, for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
                : key.isValidSignature(signature, for: SHA512.hash(data: data), padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: SHA256.hash(data: data))
        case .p384(let key):
            guard let signature = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: SHA384.hash(data: data))
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        case nil:
            return false
        }
    }

    /// DER of PKCS #1's RSAPublicKey (SEQUENCE { INTEGER n, INTEGER e }):
    /// the only way into swift-crypto for a 1,024-bit key. Encoding, not
    /// cryptography: two unsigned integers and their lengths.
    static func pkcs1DER(modulus: ArraySlice<UInt8>, exponent: ArraySlice<UInt8>) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] {
            if n < 0x80 { return [UInt8(n)] }
            var bytes: [UInt8] = []
            var v = n
            while v > 0 { bytes.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
            return [0x80 | UInt8(bytes.count)] + bytes
        }
        func integer(_ value: ArraySlice<UInt8>) -> [UInt8] {
            var digits = Array(value.drop { $0 == 0 })
            // A set high bit would read as negative.
            if digits.first.map({ $0 & 0x80 != 0 }) ?? true { digits.insert(0, at: 0) }
            return [0x02] + length(digits.count) + digits
        }
        let body = integer(modulus) + integer(exponent)
        return [0x30] + length(body.count) + body
    }
}

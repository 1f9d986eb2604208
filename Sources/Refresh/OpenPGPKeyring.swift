import CDBStore
import FoundationEssentials

/// A keyring file's bytes made ready for gpg's `keyring` option: binary
/// OpenPGP packets (RFC 4880 §4), from ASCII armor (§6) if need be.
///
/// Writing the key straight into the private GnuPG home, instead of an
/// import through gpgme, saves a gpg process per run (a third of the
/// verification's time); gpg still parses the key, and the signature check
/// still names the fingerprint that signed. What is checked here is only
/// what makes a clear message: the armor's CRC, and that the first packet
/// is a public key.
enum OpenPGPKeyring {
    static func binary(_ bytes: [UInt8], name: String) throws(RefreshError) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        let packets: [UInt8]
        if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            packets = try dearmor(text, name: name)
        } else {
            packets = bytes
        }
        // First packet: a public key (tag 6), old format (10tttt ll) or new (11tttttt).
        guard let first = packets.first,
              (first & 0xC0 == 0x80 && (first >> 2) & 0x0F == 6) || first == 0xC6 else {
            throw RefreshError(.signature, "\(name): not an OpenPGP public key")
        }
        return packets
    }

    /// Every PUBLIC KEY BLOCK in `text`, decoded and concatenated.
    static func dearmor(_ text: String, name: String) throws(RefreshError) -> [UInt8] {
        var output: [UInt8] = []
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { String($0).trimmingWhitespace() }[...]
        while let begin = lines.firstIndex(of: "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            lines = lines[(begin + 1)...]
            // Armor headers ("Comment: ...") end at the first empty line.
            guard let blank = lines.firstIndex(of: "") else { break }
            lines = lines[(blank + 1)...]
            var base64 = ""
            var checksum: String?
            while let line = lines.first, !line.hasPrefix("-----END") {
                lines = lines.dropFirst()
                if line.hasPrefix("=") { checksum = String(line.dropFirst()) } else { base64 += line }
            }
            guard let data = Data(base64Encoded: base64) else {
                throw RefreshError(.signature, "\(name): damaged ASCII armor (not base64)")
            }
            let block = [UInt8](data)
            if let checksum, let expected = Data(base64Encoded: checksum), expected.count == 3 {
                let crc = crc24(block)
                guard [UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)] == [UInt8](expected) else {
                    throw RefreshError(.signature, "\(name): damaged ASCII armor (CRC mismatch)")
                }
            }
            output += block
        }
        return output
    }

    /// RFC 4880 §6.1.
    static func crc24(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xB704CE
        for byte in bytes {
            crc ^= UInt32(byte) << 16
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x186_4CFB }
            }
        }
        return crc & 0xFF_FFFF
    }
}

import Foundation
import Refresh
import Testing
import TestSupport

/// The verifier on its own, in-process through gpgme. A real internic
/// signature cannot be checked offline (it would need today's root.zone.gz
/// from internic and its .sig), so the pinned key is checked for what can be
/// checked: it is the file in zones/, gpg parses it, and its fingerprint is
/// the pinned one. The DSA-1024/SHA-1 path is checked with a throwaway key
/// of the same kind.
@Suite struct SignatureVerifierTests {
    /// zones/ in this checkout.
    static let zonesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("zones").path

    @Test func builtInKeyIsTheFileInZones() throws {
        let file = try String(contentsOfFile: "\(Self.zonesDirectory)/internic-registry-admin.asc", encoding: .utf8)
        #expect(InternicKey.armored == file)
    }

    @Test func pinnedKeyParsesAndHasThePinnedFingerprint() throws {
        let scratch = try Scratch()
        #expect(try SignatureVerifier.internic.fingerprints(home: scratch.path) == ["F0CB1A326BDF3F3EFA3A01FA937BB869E3A238C5"])
        #expect(InternicKey.fingerprint == SignatureVerifier.normalized("F0CB 1A32 6BDF 3F3E FA3A  01FA 937B B869 E3A2 38C5"))
        // Independently of gpgme: gpg's own listing of the file.
        let listing = try run("/usr/bin/gpg", ["--homedir", scratch.path, "--batch", "--no-autostart", "--with-colons",
                                               "--import-options", "show-only", "--import",
                                               "\(Self.zonesDirectory)/internic-registry-admin.asc"]).output
        #expect(listing.contains("pub:-:1024:17:937BB869E3A238C5:"), "DSA (17), 1024 bits: \(listing)")
        #expect(listing.contains("fpr:::::::::F0CB1A326BDF3F3EFA3A01FA937BB869E3A238C5:"))
    }

    func signedZone(_ key: SigningKey, faketime: String? = nil) throws -> (zone: String, signature: String) {
        let zone = key.scratch.write("root.zone.gz", bytes(zone2023))
        return (zone, try key.sign(zone, faketime: faketime))
    }

    func verifier(_ key: SigningKey, pinned: Set<String>? = nil) -> SignatureVerifier {
        SignatureVerifier(keyring: bytes(key.publicKey), pinnedFingerprints: pinned, keyringName: key.publicKey)
    }

    @Test func dsa1024OverSHA1Verifies() throws {
        let key = try SigningKey()
        let (zone, signature) = try signedZone(key)
        // In the key's own home: never the user's, nor whatever GNUPGHOME
        // a verification running beside this test has set for its gpg.
        let listing = try SigningKey.gpg(key.home, ["--list-packets", signature]).output
        #expect(listing.contains("algo 17") && listing.contains("digest algo 2"), "DSA over SHA-1: \(listing)")
        let home = try Scratch()
        let signer = try verifier(key, pinned: [key.fingerprint]).verify(signature: signature, data: zone, home: home.path)
        #expect(signer.fingerprint == key.fingerprint)
        // No gpg-agent or other daemon was started in the private home.
        #expect(!home.files.contains { $0.hasPrefix("S.") }, "\(home.files)")
    }

    @Test func anyKeyInTheKeyringWhenNothingIsPinned() throws {
        let key = try SigningKey()
        let home = try Scratch()
        let (zone, signature) = try signedZone(key)
        let signer = try verifier(key).verify(signature: signature, data: zone, home: home.path)
        #expect(signer.fingerprint == key.fingerprint)
    }

    /// The error a verification that must fail throws, checked to be a
    /// signature failure whose text contains `mentions`.
    func expectRefused(_ verifier: SignatureVerifier, signature: String, zone: String, mentions: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let home = try Scratch()
        let error = #expect(throws: RefreshError.self, sourceLocation: sourceLocation) {
            try verifier.verify(signature: signature, data: zone, home: home.path)
        }
        #expect(error?.kind == .signature, sourceLocation: sourceLocation)
        #expect(error?.message.contains(mentions) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func keyringWithoutThePinnedKeyIsRefused() throws {
        let key = try SigningKey()
        let (zone, signature) = try signedZone(key)
        try expectRefused(verifier(key, pinned: [InternicKey.fingerprint]), signature: signature, zone: zone,
                          mentions: "not by the pinned key F0CB1A326BDF3F3EFA3A01FA937BB869E3A238C5")
    }

    @Test func revokedKeyIsRefused() throws {
        let key = try SigningKey()
        let (zone, signature) = try signedZone(key)
        try key.revoke()
        try expectRefused(verifier(key, pinned: [key.fingerprint]), signature: signature, zone: zone, mentions: "is revoked")
    }

    @Test func expiredKeyIsRefused() throws {
        // Made and used in 2020, valid for a day.
        let key = try SigningKey(faketime: "20200101T000000", expire: "1d")
        let (zone, signature) = try signedZone(key, faketime: "20200101T120000")
        try expectRefused(verifier(key, pinned: [key.fingerprint]), signature: signature, zone: zone, mentions: "has expired")
    }

    @Test func garbageSignatureIsRefused() throws {
        let key = try SigningKey()
        let (zone, _) = try signedZone(key)
        let garbage = key.scratch.write("garbage.sig", Array("not a signature\n".utf8))
        try expectRefused(verifier(key), signature: garbage, zone: zone, mentions: "garbage.sig: ")
    }

    @Test func damagedArmorIsRefused() throws {
        let key = try SigningKey()
        let (zone, signature) = try signedZone(key)
        var lines = try String(contentsOfFile: key.publicKey, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        // One base64 character changed in the middle of the key: the CRC24 line no longer matches.
        let middle = lines.count / 2
        let line = Array(lines[middle])
        lines[middle] = Substring(String(line[0] == "A" ? "B" : "A") + String(line.dropFirst()))
        let damaged = SignatureVerifier(keyring: Array(lines.joined(separator: "\n").utf8), pinnedFingerprints: nil, keyringName: "damaged.asc")
        try expectRefused(damaged, signature: signature, zone: zone, mentions: "damaged.asc: damaged ASCII armor (CRC mismatch)")
    }

    @Test func keyringThatIsNotAKeyIsRefused() throws {
        let key = try SigningKey()
        let (zone, signature) = try signedZone(key)
        let bad = SignatureVerifier(keyring: Array("hello".utf8), pinnedFingerprints: nil, keyringName: "bad.asc")
        try expectRefused(bad, signature: signature, zone: zone, mentions: "bad.asc: not an OpenPGP public key")
    }
}

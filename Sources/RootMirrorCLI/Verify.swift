import ArgumentParser
import DNSSEC
import DNSWire
import ZoneFile

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a zone by DNS's own proofs: its DNSSEC chain and its ZONEMD digest.",
        discussion: """
            The apex DNSKEY set must be signed by a key that matches a trust anchor (IANA's root \
            anchors, built in, within their validFrom/validUntil window; or --trust-anchor), every \
            RRSIG must verify with a key of that set and be valid at --now, every authoritative \
            RRset must be signed, and the NSEC chain must be complete with type bitmaps that match \
            the data. The ZONEMD record (RFC 8976, SIMPLE with SHA-384 or SHA-512) must match a \
            digest of the zone. Algorithms 8, 10 (RSA), 13, 14 (ECDSA) and 15 (Ed25519).

            Prints one summary line and exits 0, or one line naming the record (file, line, owner, \
            type) and the reason, and exits 4. Exit 1: the file cannot be read; 64: bad arguments.
            """
    )

    @Argument(help: "The master file, plain or gzip.")
    var zone: String

    @Option(help: "The zone's apex.")
    var origin = "."

    @OptionGroup var proofs: ProofOptions

    @OptionGroup var clock: ClockOption

    @Option(help: "Refuse input whose decompressed size exceeds this many MiB.")
    var maxSize = ZoneText.defaultMaximumSize >> 20

    func run() throws {
        let apex: DNSName
        do {
            apex = try DNSName(text: origin)
        } catch {
            throw fail("bad --origin '\(origin)': \(error)", exitCode: 64)
        }
        let policy = try proofs.policy(origin: apex, clock: clock)
        let parsed: ParsedZone
        do {
            let text = try ZoneText(path: zone, maximumSize: maxSize << 20)
            parsed = try ZoneParser.parse(text, options: ZoneParser.Options(origin: apex, keepDNSSEC: true))
        } catch {
            throw fail(error, exitCode: 4)
        }
        do {
            let report = try ZoneVerifier.verify(parsed.records, apex: apex, file: zone, policy: policy)
            print("\(zone): \(report.summary)")
        } catch {
            throw fail(error, exitCode: 4)
        }
    }
}

import ArgumentParser
import CDBStore
import DNSSEC
import DNSWire
import Pipeline
import ZoneFile

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a root zone file (plain or gzip) into data.cdb.",
        discussion: """
            The zone is checked before anything is written: exactly one SOA at the apex, NS at \
            the apex, every owner inside the zone, only glue below delegations, an address for \
            every in-zone name server. DNSSEC records are stripped unless --keep-dnssec is given. \
            With --verify, the zone must first pass `rootmirror verify` (DNSSEC chain and \
            ZONEMD; the same options), or nothing is written and the exit status is 4. \
            The output is written to a temporary file and renamed into place, so a running \
            server or tinydns never sees a partial file, and a failed compile leaves the old one.
            """
    )

    @Argument(help: "The master file: root.zone, or root.zone.gz as published.")
    var zone: String

    @Option(name: .shortAndLong, help: "The data.cdb to write.")
    var output = "data.cdb"

    @Flag(help: "Keep RRSIG, DNSKEY, DS, NSEC, ZONEMD and other DNSSEC records.")
    var keepDNSSEC = false

    @Option(help: "The zone's apex, for relative names and the checks.")
    var origin = "."

    @Option(help: "Refuse input whose decompressed size exceeds this many MiB.")
    var maxSize = ZoneText.defaultMaximumSize >> 20

    @Flag(help: "Verify the zone's DNSSEC chain and ZONEMD digest first, as `verify` does.")
    var verify = false

    @OptionGroup(title: "Verification") var proofs: ProofOptions

    @OptionGroup(title: "Verification") var clock: ClockOption

    func run() throws {
        let started = ContinuousClock.now
        let apex: DNSName
        do {
            apex = try DNSName(text: origin)
        } catch {
            throw fail("bad --origin '\(origin)': \(error)", exitCode: 64)
        }
        let verification = verify ? ZoneCompiler.Proofs(apex: apex, file: zone, policy: try proofs.policy(origin: apex, clock: clock)) : nil
        do throws(CompileError) {
            DataStore.removeTemporaryOnSignals()
            DataStore.removeStaleTemporaries(beside: output)
            let text: ZoneText
            do {
                text = try ZoneText(path: zone, maximumSize: maxSize << 20)
            } catch {
                throw .zone(error)
            }
            let summary = try ZoneCompiler.compile(
                zoneText: text, options: ZoneParser.Options(origin: apex, keepDNSSEC: keepDNSSEC), output: output,
                proofs: verification)
            let elapsed = ContinuousClock.now - started
            let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            print("\(output): serial \(summary.serial), \(summary.delegations) TLDs, \(summary.kept) records kept, "
                  + "\(summary.stripped) DNSSEC records stripped, \(ms) ms")
            if let report = summary.proven { print("\(zone): verified: \(report.summary)") }
            if let note = summary.journalNote { printWarning(note) }
        } catch {
            throw fail(error, exitCode: error.exitCode)
        }
    }
}

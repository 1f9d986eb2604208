import ArgumentParser
import Refresh

struct RefreshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Fetch the signed root zone, verify it, compile it and install data.cdb.",
        discussion: """
            Downloads root.zone.gz and root.zone.gz.sig (from internic unless --url), checks the \
            signature with gpgme against the pinned internic key in a private GnuPG home, compiles \
            the zone and installs data.cdb by rename, so that `serve` picks it up. On any failure \
            data.cdb stays as it was and one line on stderr says why. When internic fails, the \
            zone is transferred (AXFR) from the servers RFC 8806 and IANA name, by address. \
            \(RefreshArguments.defaultSourcesText)

            Before it is judged, the zone must pass `rootmirror verify`: its DNSSEC chain from the \
            root trust anchors and its ZONEMD digest (--dnssec, --zonemd, --trust-anchor, --now; \
            a check not made is named in the summary line and missing from verified= in DATA.state). Refused even when validly signed: a bad DNSSEC chain \
            or ZONEMD digest, a serial older than the installed one (--force \
            overrides), fewer TLDs than --min-tlds. The same serial is a quiet success. State \
            (last success, serial, source, HTTP validators) is kept in DATA.state, the lock in \
            DATA.lock.

            Exit status: 0 installed or nothing new; 1 local failure (cannot write); 2 fetch \
            (network, HTTP status, timeout, over the size cap); 3 signature (bad, wrong key, \
            revoked or expired key, unusable keyring); 4 data (corrupt gzip, zone errors, DNSSEC \
            or ZONEMD verification failed, older serial, too few TLDs); 5 another refresh is running; 64 bad arguments.
            """
    )

    @Option(name: .shortAndLong, help: "The data.cdb to install.")
    var data = defaultDataPath

    @Option(help: "Install from this local root.zone.gz (or root.zone) instead of downloading; needs --sig.")
    var file: String?

    @Option(help: "The detached signature of --file.")
    var sig: String?

    @Flag(help: "Print nothing unless something fails (for cron).")
    var quiet = false

    @Flag(help: "Install even if the serial is not newer, and download even if unchanged.")
    var force = false

    @OptionGroup var source: RefreshArguments

    @OptionGroup(title: "Transfers (axfr:// sources)") var tsig: TSIGOptions
    @OptionGroup(title: "Verification") var clock: ClockOption

    func validate() throws {
        if (file == nil) != (sig == nil) { throw ValidationError("--file and --sig go together") }
        if file != nil && !source.url.isEmpty { throw ValidationError("--file and --url exclude each other") }
    }

    func run() throws {
        try runBlocking { try await refresh() }
    }

    private func refresh() async throws {
        let started = ContinuousClock.now
        var options = try source.options(data: data, clock: clock)
        options.transferKey = try tsig.key()
        options.force = force
        if let file { options.sources = [.files(zone: file, signature: sig!)] }
        do throws(RefreshError) {
            if let keyring = source.keyring {
                options.verifier = try SignatureVerifier(keyringFile: keyring, fingerprint: source.fingerprint)
            } else if let fingerprint = source.fingerprint {
                options.verifier.pinnedFingerprints = [SignatureVerifier.normalized(fingerprint)]
            }
            let outcome = try await Refresher.run(options, logger: Refresher.standardErrorLogger(quiet: quiet),
                                                 progress: quiet ? nil : Progress.onTerminal())
            // Even with --quiet: the state file, which the freshness checks
            // read, is stale until the next run writes it.
            if let warning = outcome.warning { printWarning(warning) }
            if !quiet { print(summary(outcome, since: started)) }
        } catch {
            // One line whatever a server or gpg put in the text: cron mails it.
            let line = error.description.split(whereSeparator: \.isNewline).joined(separator: " ")
            throw fail(line, exitCode: error.kind.exitCode)
        }
    }

    /// "verified openpgp dnssec zonemd", and a proof that was not checked
    /// named as such: the log must show a zone taken on less evidence.
    private func proven(_ outcome: RefreshOutcome) -> String {
        let verified = outcome.verified ?? []
        let unchecked = [("dnssec", "DNSSEC", source.proofs.dnssec), ("zonemd", "ZONEMD", source.proofs.zonemd)].compactMap { key, name, requirement in
            verified.contains(key) ? nil : requirement == .off ? "\(name) off" : "\(name) absent"
        }
        return "verified \(verified.joined(separator: " "))" + (unchecked.isEmpty ? "" : " (\(unchecked.joined(separator: ", ")))")
    }

    private func summary(_ outcome: RefreshOutcome, since started: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let serial = outcome.serial.map(String.init) ?? "none"
        switch outcome.action {
        case .installed:
            let was = outcome.previousSerial.map { " (was \($0))" } ?? ""
            return "\(data): serial \(serial) installed\(was), \(outcome.tlds ?? 0) TLDs, from \(outcome.source), "
                + "\(proven(outcome)), \(ms) ms"
        case .unchanged:
            return "\(data): serial \(serial) already installed, nothing to do (\(outcome.source))"
        case .notModified:
            return "\(data): serial \(serial), \(outcome.source) not modified since the last refresh"
        }
    }
}

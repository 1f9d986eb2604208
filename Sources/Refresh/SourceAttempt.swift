import Addressing
import CDBStore
import DNSSEC
import DNSWire
import FoundationEssentials
import Logging
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// One source's turn in a refresh, step by step: what is installed, fetch
/// (or learn there is nothing new), the trust anchors, verify and stage,
/// judge, record the anchors, install with the state.
extension Refresher {
    /// What one run works with, passed to each step.
    struct RunContext {
        let options: RefreshOptions
        let workspace: Workspace
        let deadline: RunDeadline
        let logger: Logger
        let progress: Progress?
        let now: @Sendable () -> Int64
    }

    /// The data installed now, as this run sees it before fetching.
    struct Installed {
        let soa: SOAFields?
        var serial: UInt32? { soa?.serial }
        /// Compiled with what the options ask for (`--keep-dnssec` or not):
        /// data that is not is replaced even at the same serial.
        let asAsked: Bool

        init(data: String, keepDNSSEC: Bool) {
            soa = DataStore.soa(path: data)
            asAsked = soa != nil && DataStore.keepsDNSSEC(path: data) == keepDNSSEC
        }
    }

    /// A zone fetched and not yet judged: its text, opened once the
    /// signature check has started, and what came with it.
    struct Candidate {
        let source: String
        let text: () throws(ZoneError) -> ZoneText
        /// The detached OpenPGP signature to check; none for a transfer.
        var signature: DetachedSignature?
        var validators: Validators?
        var transfer: TransferStream?
        var incremental: IncrementalTransfer?
        /// The primary a transfer came from: its zone must carry DNSSEC and ZONEMD.
        var server: IPEndpoint?
    }

    enum Fetched {
        /// Nothing new at the source; the state says so.
        case current(RefreshOutcome)
        case zone(Candidate)
    }

    static func attempt(_ source: RefreshOptions.Source, _ run: RunContext) async throws(RefreshError) -> RefreshOutcome {
        var state: RefreshState
        do {
            state = try RefreshState.read(forData: run.options.data)
        } catch {
            throw RefreshError(.local, "\(error)")
        }
        let installed = Installed(data: run.options.data, keepDNSSEC: run.options.keepDNSSEC)
        let candidate: Candidate
        switch try await fetch(source, installed: installed, state: &state, run) {
        case .current(let outcome): return outcome
        case .zone(let zone): candidate = zone
        }
        var proofs = run.options.proofs
        if candidate.server != nil {
            proofs.dnssec = .required
            proofs.zonemd = .required
        }
        let anchorState = try seededAnchors(&proofs, data: run.options.data)
        let (prepared, fetched) = try prepare(candidate, proofs: proofs, run)
        let (signer, zone, staged, proven) = prepared
        var kept = false
        defer { if !kept, case .success(let file) = staged { file.discard() } }

        let action = try judge(zone, source: fetched.source, installed: installed, state: &state, options: run.options)
        // Before the install: what a verified, accepted zone showed of the
        // root's keys holds whether or not the install then succeeds.
        if let anchorState, proven.dnssecVerified {
            try recordAnchors(anchorState, after: proven, now: proofs.now, data: run.options.data, logger: run.logger)
        }
        let time = run.now()
        if action == .installed { state.lastInstall = time }
        state.lastSuccess = time
        state.confirmed = confirmation(now: time, expireSeconds: fetched.incremental?.expireSeconds ?? fetched.transfer?.expireSeconds,
                                       soaExpire: zone.soa.expire)
        if action == .unchanged, let known = state.confirmation(of: zone.soa.serial) { state.confirmed = max(known, state.confirmed!) }
        state.result = action.rawValue
        state.serial = zone.soa.serial
        state.source = fetched.source
        state.etag = fetched.validators?.etag
        state.lastModified = fetched.validators?.lastModified
        state.verified = (signer == nil ? [] : ["openpgp"]) + proven.verified
        state.signaturesExpire = proven.signaturesExpire
        kept = action == .installed
        let warning = try install(action == .installed ? staged : nil, state: state, run)
        return RefreshOutcome(action: action, serial: zone.soa.serial, previousSerial: installed.serial, tlds: zone.delegationCount,
                              source: fetched.source, signer: signer?.fingerprint, verified: state.verified,
                              signaturesExpire: proven.signaturesExpire, warning: warning)
    }

    private static func fetch(_ source: RefreshOptions.Source, installed: Installed, state: inout RefreshState,
                              _ run: RunContext) async throws(RefreshError) -> Fetched {
        switch source {
        case .files(let zone, let signatureFile):
            // The state file names the source for whoever reads it later,
            // from another directory: an absolute path.
            let absolute = realpath(zone, nil).map { resolved in
                defer { free(resolved) }
                return String(cString: resolved)
            } ?? zone
            let maximumSize = run.options.maximumZoneSize
            return .zone(Candidate(source: absolute, text: { () throws(ZoneError) in try ZoneText(path: zone, maximumSize: maximumSize) },
                                   signature: DetachedSignature(data: zone, path: signatureFile, name: signatureFile)))
        case .url(let mirror):
            return try await download(mirror, installed: installed, state: &state, run)
        case .axfr(let server):
            return try transfer(from: server, installed: installed, state: &state, run)
        }
    }

    private static func download(_ mirror: String, installed: Installed, state: inout RefreshState,
                                 _ run: RunContext) async throws(RefreshError) -> Fetched {
        let options = run.options
        let urls = RefreshOptions.urls(for: mirror)
        let (zonePath, signaturePath) = (run.workspace.file("root.zone.gz"), run.workspace.file("root.zone.gz.sig"))
        // Ask "changed since?" only when what is installed is what the
        // last run took from this URL: otherwise (no data.cdb, another
        // mirror, a hand-run compile since) a 304 would keep the wrong data.
        let conditional = !options.force && installed.asAsked && installed.serial == state.serial && state.source == urls.zone
            ? Validators(etag: state.etag, lastModified: state.lastModified) : nil
        let fetched: FetchResult
        do {
            fetched = try await Fetcher.with(options: options.fetch, logger: run.logger, progress: run.progress) { fetcher in
                let zone = try await fetcher.fetch(urls.zone, to: zonePath, conditional: conditional?.isEmpty == false ? conditional : nil)
                if case .downloaded = zone {
                    _ = try await fetcher.fetch(urls.signature, to: signaturePath, maximumSize: 64 << 10)
                }
                return zone
            }
        } catch let error as RefreshError {
            throw error
        } catch {
            throw RefreshError(.fetch, "\(urls.zone): \(Fetcher.describe(error))")
        }
        switch fetched {
        case .notModified:
            // Asked only about the serial installed from this URL: it is still current there.
            return .current(try confirmCurrent(.notModified, serial: installed.serial, confirmed: run.now(), source: urls.zone,
                                               state: &state, run))
        case .downloaded(_, let validators):
            let maximumSize = options.maximumZoneSize
            return .zone(Candidate(source: urls.zone, text: { () throws(ZoneError) in try ZoneText(path: zonePath, maximumSize: maximumSize) },
                                   signature: DetachedSignature(data: zonePath, path: signaturePath, name: urls.signature),
                                   validators: validators))
        }
    }

    /// The serial first (an unchanged zone costs one query), then IXFR into
    /// installed signed data, else AXFR.
    private static func transfer(from server: IPEndpoint, installed: Installed, state: inout RefreshState,
                                 _ run: RunContext) throws(RefreshError) -> Fetched {
        let options = run.options
        let name = "axfr://\(server)"
        let deadline = DNSExchange.monotonicMilliseconds() + Int(options.fetch.timeout / .milliseconds(1))
        let (upstream, expireSeconds) = try TransferSource.serial(of: server, key: options.transferKey, deadline: deadline)
        if !options.force, let serial = installed.serial, upstream != serial, !SerialNumber.isNewer(upstream, than: serial) {
            try refuseStale(name, serial: upstream, installed: serial, state: &state, data: options.data)
        }
        if !options.force, installed.asAsked, let serial = installed.serial, upstream == serial {
            // A primary's word on how fresh the serial is counts no
            // more than what it says of its own data (RFC 7314).
            let primary = confirmation(now: run.now(), expireSeconds: expireSeconds, soaExpire: installed.soa?.expire)
            return .current(try confirmCurrent(.unchanged, serial: serial, confirmed: max(state.confirmation(of: serial) ?? primary, primary),
                                               source: name, state: &state, run))
        }
        if let serial = installed.serial, options.keepDNSSEC, !options.force,
           let incremental = incrementalTransfer(from: server, key: options.transferKey, installed: serial, serial: upstream,
                                                 data: options.data, maximumSize: options.fetch.maximumSize, deadline: deadline,
                                                 logger: run.logger) {
            return .zone(Candidate(source: name, text: { incremental.text }, incremental: incremental, server: server))
        }
        let stream = TransferStream(from: server, key: options.transferKey, maximumSize: options.fetch.maximumSize, deadline: deadline)
        return .zone(Candidate(source: name, text: { stream.text }, transfer: stream, server: server))
    }

    /// The source has nothing newer than what is installed: the state
    /// records the confirmation, and that is the run's outcome.
    private static func confirmCurrent(_ action: RefreshOutcome.Action, serial: UInt32?, confirmed: Int64, source: String,
                                       state: inout RefreshState, _ run: RunContext) throws(RefreshError) -> RefreshOutcome {
        state.lastSuccess = run.now()
        state.confirmed = confirmed
        state.result = action.rawValue
        state.serial = serial
        try save(state, forData: run.options.data)
        return RefreshOutcome(action: action, serial: serial, previousSerial: serial, source: source)
    }

    /// The anchors learned from the root's own rollovers (RFC 5011), with
    /// the seeds, put into `proofs`; what is on disk and the seeded state,
    /// for `recordAnchors`. None when DNSSEC is off.
    private static func seededAnchors(_ proofs: inout VerificationPolicy, data: String) throws(RefreshError)
        -> (onDisk: TrustAnchorState?, seeded: TrustAnchorState)? {
        guard proofs.dnssec != .off else { return nil }
        do {
            let onDisk = try TrustAnchorState.read(forData: data)
            let seeded = AnchorTracking.seeded(onDisk, seeds: proofs.anchors, now: proofs.now)
            proofs.anchors = AnchorTracking.anchors(seeded, now: proofs.now)
            return (onDisk, seeded)
        } catch {
            throw RefreshError(.local, "\(error)")
        }
    }

    typealias Prepared = (SignatureVerifier.Signer?, CheckedZone, Result<DataStore.Staged, StoreError>, VerificationReport)

    /// Verifies and stages the candidate; a zone built from IXFR that does
    /// not verify makes way for the whole zone by AXFR, judged on its own.
    /// Returns the candidate as it was in the end (with the transfer used),
    /// and logs how the zone came.
    private static func prepare(_ candidate: Candidate, proofs: VerificationPolicy, _ run: RunContext) throws(RefreshError)
        -> (Prepared, Candidate) {
        var candidate = candidate
        let staging = run.workspace.file("data.cdb")
        var prepared: Prepared
        do {
            prepared = try verifyAndPrepare(candidate.text, signature: candidate.signature, sourceName: candidate.source,
                                            home: run.workspace.gnupgHome, staging: staging, proofs: proofs, options: run.options)
        } catch {
            guard let server = candidate.server, candidate.incremental != nil else {
                // A transfer cut short is the network's fault, whatever the parser made of its part.
                throw candidate.transfer?.failure ?? error
            }
            run.logger.warning("\(candidate.source): the zone after IXFR does not verify (\(error)); transferring the whole zone")
            let stream = TransferStream(from: server, key: run.options.transferKey, maximumSize: run.options.fetch.maximumSize,
                                        deadline: DNSExchange.monotonicMilliseconds() + Int(run.options.fetch.timeout / .milliseconds(1)))
            candidate.incremental = nil
            candidate.transfer = stream
            do {
                prepared = try verifyAndPrepare({ stream.text }, signature: nil, sourceName: candidate.source, home: run.workspace.gnupgHome,
                                                staging: staging, proofs: proofs, options: run.options)
            } catch {
                throw stream.failure ?? error
            }
        }
        if let incremental = candidate.incremental {
            let what = incremental.incremental
                ? "IXFR, \(incremental.differences) difference\(incremental.differences == 1 ? "" : "s")" : "IXFR answered with the whole zone"
            run.logger.notice("\(candidate.source): \(what), \(incremental.bytes) bytes")
        } else if let transfer = candidate.transfer {
            run.logger.notice("\(candidate.source): AXFR, \(transfer.bytes) bytes")
        }
        return (prepared, candidate)
    }

    /// Installed, or unchanged; throws when the zone has too few TLDs or
    /// is older than what is installed (a stale source).
    private static func judge(_ zone: CheckedZone, source: String, installed: Installed, state: inout RefreshState,
                              options: RefreshOptions) throws(RefreshError) -> RefreshOutcome.Action {
        let serial = zone.soa.serial
        guard zone.delegationCount >= options.minimumTLDs else {
            throw RefreshError(.data, "\(source): serial \(serial) has only \(zone.delegationCount) TLDs, "
                + "fewer than the floor of \(options.minimumTLDs); not installed")
        }
        guard let current = installed.serial, !options.force else { return .installed }
        if serial == current { return installed.asAsked ? .unchanged : .installed }
        if !SerialNumber.isNewer(serial, than: current) {
            try refuseStale(source, serial: serial, installed: current, state: &state, data: options.data)
        }
        return .installed
    }

    private static func recordAnchors(_ anchors: (onDisk: TrustAnchorState?, seeded: TrustAnchorState), after proven: VerificationReport,
                                      now: Int64, data: String, logger: Logger) throws(RefreshError) {
        let (updated, changes) = AnchorTracking.update(anchors.seeded, after: proven, now: now)
        if updated != anchors.onDisk {
            do {
                try updated.write(forData: data)
            } catch {
                throw RefreshError(.local, "\(error)")
            }
        }
        for change in changes { logger.notice("trust anchor: \(change)") }
    }

    /// Writes the state and, when `staged` is given, installs data.cdb: the
    /// state is staged first, so that one that cannot be written (a full
    /// disk, a directory in its place) fails the run with data.cdb as it
    /// was; after the install only the state's rename is left. Returns the
    /// warning a half-done install leaves, if any.
    private static func install(_ staged: Result<DataStore.Staged, StoreError>?, state: RefreshState,
                                _ run: RunContext) throws(RefreshError) -> String? {
        let stagedState: StagedFile
        do {
            stagedState = try state.stage(forData: run.options.data)
        } catch {
            throw RefreshError(.local, "\(error)")
        }
        run.deadline.commit()
        guard let staged else {
            do {
                try stagedState.commit()
            } catch {
                throw RefreshError(.local, "\(error)")
            }
            return nil
        }
        var warning: String?
        do {
            warning = try staged.get().install()
        } catch {
            stagedState.discard()
            throw RefreshError(.local, "\(error)")
        }
        do {
            try stagedState.commit()
        } catch {
            // data.cdb is in place and served: the run did install.
            warning = "\(run.options.data) installed, but the state was not written: \(error)"
        }
        return warning
    }
}

import Addressing
import CDBStore
import Dispatch
import DNSSEC
import DNSWire
import FoundationEssentials
import Logging
import Pipeline
import TSIG
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// What one refresh is asked to do.
public struct RefreshOptions: Sendable {
    public enum Source: Sendable {
        /// A mirror: a directory URL (root.zone.gz is appended) or the
        /// URL of the .gz itself; the signature is the same URL plus ".sig".
        case url(String)
        /// Files already on disk, verified and installed the same way.
        case files(zone: String, signature: String)
        /// A zone transfer from this server (`axfr://HOST[:PORT]`). It
        /// carries no OpenPGP signature: DNSSEC and ZONEMD are required.
        case axfr(IPEndpoint)

        /// `axfr://ADDR[:PORT]` is a zone transfer (an address: a refresh
        /// must not depend on the DNS it may be repairing); anything else
        /// a mirror URL.
        public init(parsing text: String) throws(IPEndpointError) {
            guard text.hasPrefix("axfr://") else {
                self = .url(text)
                return
            }
            self = .axfr(try IPEndpoint(parsing: String(text.dropFirst("axfr://".count)), defaultPort: 53))
        }

        /// What a line about it calls it.
        public var name: String {
            switch self {
            case .url(let mirror): RefreshOptions.urls(for: mirror).zone
            case .files(let zone, _): zone
            case .axfr(let server): "axfr://\(server)"
            }
        }
    }

    public static let internicURL = "https://www.internic.net/domain/"

    /// Where the root comes from when no `--url` is given, in order:
    /// internic over HTTPS (signed with OpenPGP), then zone transfers from
    /// the servers RFC 8806 (Appendix A) and IANA name as allowing AXFR of
    /// the root, so that a refresh works while internic's web site does
    /// not. IANA's dedicated transfer servers come before the root servers,
    /// whose TCP capacity is for queries. By address, IPv4 then IPv6 for
    /// each: a refresh must not depend on the DNS it is repairing. The
    /// root servers' addresses are those of the 2026082201 root zone
    /// (b.root's changed in 2023); the transfer servers', RFC 8806's.
    public static let defaultSources = [
        internicURL,
        "axfr://192.0.32.132", "axfr://[2620:0:2d0:202::132]",     // lax.xfr.dns.icann.org
        "axfr://192.0.47.132", "axfr://[2620:0:2830:202::132]",    // iad.xfr.dns.icann.org
        "axfr://170.247.170.2", "axfr://[2801:1b8:10::b]",         // b.root-servers.net
        "axfr://192.33.4.12", "axfr://[2001:500:2::c]",            // c.root-servers.net
        "axfr://199.7.91.13", "axfr://[2001:500:2d::d]",           // d.root-servers.net
        "axfr://192.5.5.241", "axfr://[2001:500:2f::f]",           // f.root-servers.net
        "axfr://192.112.36.4", "axfr://[2001:500:12::d0d]",        // g.root-servers.net
        "axfr://193.0.14.129", "axfr://[2001:7fd::1]",             // k.root-servers.net
    ]

    public var data = "data.cdb"
    /// Tried in order until one yields a zone that passes every check.
    public var sources = defaultSources.map { try! Source(parsing: $0) }
    public var verifier = SignatureVerifier.internic
    /// Install even when the serial is not newer than the installed one,
    /// and download even when the server says nothing changed.
    public var force = false
    /// Refuse a zone with fewer delegations than this even when validly
    /// signed: a truncated or test zone signed by mistake must not replace
    /// the root (the real one has about 1,450).
    public var minimumTLDs = 1000
    /// Decompressed size cap for the zone text (gzip bombs).
    public var maximumZoneSize = ZoneText.defaultMaximumSize
    public var fetch = FetchOptions()
    /// What the zone's own proofs must show: by default its DNSSEC chain from
    /// IANA's anchors and its ZONEMD digest, both required.
    public var proofs = VerificationPolicy(anchors: RootAnchors.valid(at: Int64(time(nil))), now: Int64(time(nil)))
    /// Keep the DNSSEC records (compile's --keep-dnssec), so that `serve`
    /// answers DO queries as the root servers do, for validating resolvers.
    public var keepDNSSEC = false
    /// `--transfer-key`: transfers from `axfr://` sources signed with it (TSIG).
    public var transferKey: TSIGKey?
    /// The whole run, every source tried, is over by then (`RunDeadline`).
    public var maximumTime = Duration.seconds(900)

    public init() {}

    /// The zone and signature URLs for a mirror URL.
    public static func urls(for mirror: String) -> (zone: String, signature: String) {
        let zone = mirror.hasSuffix(".gz") ? mirror : (mirror.hasSuffix("/") ? mirror : mirror + "/") + "root.zone.gz"
        return (zone, zone + ".sig")
    }
}

/// What a successful refresh did.
public struct RefreshOutcome: Sendable, Equatable {
    public enum Action: String, Sendable {
        /// A new data.cdb was installed.
        case installed
        /// A validly signed zone with the installed serial: nothing to do.
        case unchanged
        /// The server answered 304: nothing was downloaded.
        case notModified = "not-modified"
    }

    public var action: Action
    /// The serial now installed (nil only if a 304 came with no data.cdb to read).
    public var serial: UInt32?
    public var previousSerial: UInt32?
    public var tlds: Int?
    public var source: String
    public var signer: String?
    /// The proofs that held (`openpgp`, `dnssec`, `zonemd`) and the earliest
    /// RRSIG expiration; nil for a 304, where nothing was looked at.
    public var verified: [String]?
    public var signaturesExpire: Int64?
    /// What went wrong after the install, which stands: the state file
    /// could not be put in place.
    public var warning: String?
}

/// fetch → verify ∥ (gunzip → parse → strip → check) → judge → install.
///
/// The order is what makes it safe to run from cron on a resolver's data:
/// - one run at a time (flock), leftovers of killed runs removed first;
/// - nothing is installed before the signature is known good; the zone is
///   parsed while gpg checks it, because the two together take little more
///   than the slower one, but the parse result is only looked at after;
/// - a good signature is not enough: an older serial (RFC 1982) or too few
///   TLDs is refused, so a replayed old zone or a signed test file cannot
///   replace current data;
/// - data.cdb is replaced by rename, so the server (which watches for the
///   rename) and tinydns see the old file or the new one, never a mix; on
///   any failure it stays byte for byte as it was;
/// - every temporary file lives in one workspace removed on every path.
public enum Refresher {
    /// Warnings (a retry, say) and notices (a change of trust anchors) on
    /// stderr for a person at a terminal; with
    /// `quiet`, nothing: under cron only the final failure line is mailed.
    public static func standardErrorLogger(quiet: Bool) -> Logger {
        var logger = Logger(label: "rootmirror.refresh") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = quiet ? .critical : .notice
        return logger
    }

    public static func run(_ options: RefreshOptions, logger: Logger = Logger(label: "rootmirror.refresh"),
                           progress: Progress? = nil, now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) async throws(RefreshError) -> RefreshOutcome {
        // The lock first: a run refused it exits at once and must not leave
        // gpgme's engine check running into exit(), whose teardown of
        // gpgme's libraries races that thread (seen: SIGSEGV in the tests).
        let lock = try RunLock(data: options.data)
        defer { withExtendedLifetime(lock) {} }
        SignatureVerifier.startEngineCheck()
        defer { SignatureVerifier.finishEngineCheck() }
        Workspace.removeStale(beside: options.data)
        let workspace = try Workspace(data: options.data)
        defer { workspace.remove() }
        let deadline = RunDeadline(limit: options.maximumTime, workspace: workspace)
        defer { deadline.finish() }

        var first: RefreshError?
        for (index, source) in options.sources.enumerated() {
            deadline.on(source.name)
            do {
                return try await attempt(source, RunContext(options: options, workspace: workspace, deadline: deadline, logger: logger,
                                                            progress: progress, now: now))
            } catch {
                // A source that fails is one line, and the next is tried;
                // a local failure would fail them all.
                guard error.kind != .local else { throw error }
                guard index < options.sources.count - 1 else {
                    // The first source's failure is the one to act on (internic
                    // does not resolve); the fallbacks' only say they failed too.
                    guard let first else { throw error }
                    let others = index == 1 ? "the other source" : "all \(index) other sources"
                    throw RefreshError(first.kind, "\(first.description); \(others) failed too, the last: \(error.description)")
                }
                first = first ?? error
                logger.warning("\(error.description.split(whereSeparator: \.isNewline).joined(separator: " ")); trying the next source")
            }
        }
        throw RefreshError(.local, "no source to refresh from")
    }

    /// The differences from the installed serial by IXFR, applied to the
    /// installed records, when those hold the whole zone (signatures
    /// included: the result must verify as a whole); nil, with one log
    /// line, when IXFR cannot be used and the whole zone must come.
    static func incrementalTransfer(from server: IPEndpoint, key: TSIGKey?, installed: UInt32, serial: UInt32, data: String, maximumSize: Int,
                                    deadline: Int, logger: Logger) -> IncrementalTransfer? {
        guard let records = try? DataStore.load(path: data), records.contains(where: { $0.type == .rrsig }) else { return nil }
        do {
            return try IncrementalTransfer.fetch(from: server, key: key, installed: records, serial: serial, maximumSize: maximumSize, deadline: deadline)
        } catch {
            logger.notice("axfr://\(server): IXFR from serial \(installed) not used (\(error)); transferring the whole zone")
            return nil
        }
    }

    /// A source that serves an older serial than the one installed is
    /// stale: it confirms nothing, and the state says so (`result=stale
    /// source`) while keeping what was known. Always throws.
    static func refuseStale(_ source: String, serial: UInt32, installed: UInt32, state: inout RefreshState,
                            data: String) throws(RefreshError) {
        state.result = "stale source"
        try save(state, forData: data)
        throw RefreshError(.data, "\(source): serial \(serial) is older than the installed \(installed): a stale source; "
            + "not installed (--force overrides)")
    }

    /// When data is known current: now, or, from a primary that says how
    /// long its own data may still be served (EXPIRE), as long ago as its
    /// data has aged, so that a chain of mirrors never adds to the data's life.
    static func confirmation(now: Int64, expireSeconds: UInt32?, soaExpire: UInt32?) -> Int64 {
        guard let expireSeconds, let soaExpire, expireSeconds < soaExpire else { return now }
        return now - Int64(soaExpire - expireSeconds)
    }

    /// An OpenPGP signature over the file `data`; `name` is what the log calls it.
    struct DetachedSignature {
        var data: String
        var path: String
        var name: String
    }

    /// The state file is the freshness monitor's evidence that refresh
    /// works; failing to write it fails the run, so cron says so.
    static func save(_ state: RefreshState, forData data: String) throws(RefreshError) {
        do {
            try state.write(forData: data)
        } catch {
            throw RefreshError(.local, "\(error)")
        }
    }

    /// Checks the signature on another thread (gpg runs as a child process,
    /// so this is mostly waiting) while this one inflates, parses, verifies
    /// the zone's DNSSEC chain and ZONEMD digest, checks the zone and stages
    /// data.cdb under its temporary name (see
    /// `ZoneCompiler.prepareAndStage`). The signature's verdict is taken
    /// first: a parse error in a file that is not validly signed says
    /// nothing worth reporting. Nothing is installed here: the caller
    /// judges the zone, then installs or discards what was staged.
    ///
    /// The verifier gets a thread of its own, not a Dispatch worker: on
    /// Linux the global queues have one worker per core and do not notice
    /// one blocking, so with this caller on one worker (an async task) the
    /// verification and the inflating thread would take turns on the other,
    /// and the parse would wait for the verification instead of overlapping
    /// it (measured: 4 ms slower, with less CPU used).
    static func verifyAndPrepare(_ zoneText: () throws(ZoneError) -> ZoneText, signature: DetachedSignature?,
                                 sourceName: String, home: String, staging: String, proofs policy: VerificationPolicy,
                                 options: RefreshOptions)
        throws(RefreshError) -> (SignatureVerifier.Signer?, CheckedZone, Result<DataStore.Staged, StoreError>, VerificationReport) {
        let verification = Handoff<SignatureVerifier.Signer?, RefreshError>()
        if let signature {
            let verifier = options.verifier
            OSThread.detach {
                verification.finish(Result { () throws(RefreshError) in
                    try verifier.verify(signature: signature.path, data: signature.data, home: home, label: signature.name)
                })
            }
        } else {
            verification.finish(.success(nil))
        }
        let prepared: Result<ZoneCompiler.Prepared, RefreshError>
        let proofs = ZoneCompiler.Proofs(apex: .root, file: signature?.data ?? sourceName, policy: policy)
        do {
            let text = try zoneText()
            let parsing = ZoneParser.Options(origin: .root, keepDNSSEC: options.keepDNSSEC)
            // With no proof asked for, the zone goes through as a plain
            // compile's, and the report below says nothing was checked.
            prepared = .success(try ZoneCompiler.prepareAndStage(zoneText: text, options: parsing, output: options.data,
                                                                 temporary: staging, proofs: proofs.checksAnything ? proofs : nil))
        } catch {
            // A zone that cannot be read, parsed, checked or proven is refused
            // alike: the data is at fault, whichever step found it out.
            prepared = .failure(RefreshError(.data, "\(error)"))
        }
        let signer: SignatureVerifier.Signer?
        do {
            signer = try verification.wait().get()
        } catch {
            if case .success(let compiled) = prepared, case .success(let staged) = compiled.staged { staged.discard() }
            throw error
        }
        let compiled = try prepared.get()
        return (signer, compiled.zone, compiled.staged, compiled.proven ?? VerificationReport(serial: compiled.zone.soa.serial))
    }
}

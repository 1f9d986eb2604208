import CDBStore
import Dispatch
import DNSSEC
import DNSWire
import ZoneFile

/// The compile pipeline shared by `compile` and `refresh`: read (inflating
/// gzip), parse, verify (when asked), strip, check, then install data.cdb
/// atomically. data.cdb is replaced only when every step before it
/// succeeded; what is built under its temporary name meanwhile is removed
/// when a step fails.
public enum ZoneCompiler {
    public struct Summary: Sendable {
        public var serial: UInt32
        public var delegations: Int
        public var kept: Int
        public var stripped: Int
        /// What the verification proved, when the compile verified.
        public var proven: VerificationReport?
        /// Why the journal beside data.cdb did not follow the install, if it did not.
        public var journalNote: String?

        public init(_ zone: CheckedZone) {
            serial = zone.soa.serial
            delegations = zone.delegationCount
            kept = zone.records.count
            stripped = zone.strippedCount
        }
    }

    /// The verification step: the whole parsed zone, DNSSEC records
    /// included, judged (DNSSEC chain and ZONEMD) before its data.cdb may
    /// be installed.
    public struct Proofs: Sendable {
        public var apex: DNSName
        /// The name the verification's errors give the zone.
        public var file: String
        public var policy: VerificationPolicy

        public init(apex: DNSName, file: String, policy: VerificationPolicy) {
            self.apex = apex
            self.file = file
            self.policy = policy
        }

        /// Whether the policy asks for any proof. With DNSSEC and ZONEMD both
        /// off, verifying would only put the zone in canonical order and keep
        /// its DNSSEC records through the parse to strip them after (half
        /// again a compile's work) to report that nothing was checked.
        public var checksAnything: Bool { policy.dnssec != .off || policy.zonemd != .off }

        func verify(_ parsed: ParsedZone) throws(CompileError) -> VerificationReport {
            do {
                return try ZoneVerifier.verify(parsed.records, apex: apex, file: file, policy: policy)
            } catch {
                throw .proof(error)
            }
        }
    }

    /// The checked zone, what its proofs showed (when it was verified), and
    /// data.cdb staged under its temporary name, or why it could not be
    /// written: the caller installs or discards it once it has judged the zone.
    public struct Prepared: Sendable {
        public var zone: CheckedZone
        public var proven: VerificationReport?
        public var staged: Result<DataStore.Staged, StoreError>
    }

    public static func compile(zoneText: ZoneText, options: ZoneParser.Options, output: String,
                               proofs: Proofs? = nil) throws(CompileError) -> Summary {
        let prepared = try prepareAndStage(zoneText: zoneText, options: options, output: output, proofs: proofs)
        var summary = Summary(prepared.zone)
        summary.proven = prepared.proven
        do {
            summary.journalNote = try prepared.staged.get().install()
        } catch {
            throw .store(error)
        }
        return summary
    }

    /// Parses, then checks the zone on this thread while another writes and
    /// syncs data.cdb under its temporary name (`DataStore.stage`): the two
    /// take about as long, and by then the inflating thread has finished,
    /// so the second core is free. When the checks fail what was staged is
    /// discarded here and the check's error thrown. `output` itself is never
    /// touched. `temporary` is where it is staged (see `DataStore.stage`).
    ///
    /// With `proofs`, the zone is parsed with its DNSSEC records and verified
    /// while data.cdb is staged from the records it keeps (stripped unless
    /// `options` keeps them): one parse, and the staging thread uses the
    /// core the verification's single-threaded parts leave idle. Plain
    /// compiles pay nothing for it.
    public static func prepareAndStage(zoneText: ZoneText, options: ZoneParser.Options, output: String,
                                       temporary: String? = nil, proofs: Proofs? = nil) throws(CompileError) -> Prepared {
        var parsing = options
        if proofs != nil { parsing.keepDNSSEC = true }
        let parsed: ParsedZone
        do {
            parsed = try ZoneParser.parse(zoneText, options: parsing)
        } catch {
            throw .zone(error)
        }
        let kept = proofs != nil && !options.keepDNSSEC ? parsed.strippingDNSSEC() : parsed
        let staging = stage(kept.records, output: output, temporary: temporary)
        do throws(CompileError) {
            let proven = try proofs?.verify(parsed)
            let zone: CheckedZone
            do {
                zone = try ZoneChecker.check(kept, apex: options.origin, file: zoneText.path)
            } catch {
                throw .zone(error)
            }
            return Prepared(zone: zone, proven: proven, staged: staging.wait())
        } catch {
            if case .success(let staged) = staging.wait() { staged.discard() }
            throw error
        }
    }

    /// Writes data.cdb, then the journal of its differences from the
    /// installed one, under temporary names on a thread of its own.
    private static func stage(_ records: PackedRecords, output: String, temporary: String?) -> Handoff<DataStore.Staged, StoreError> {
        let staging = Handoff<DataStore.Staged, StoreError>()
        DispatchQueue.global(qos: .userInitiated).async {
            staging.finish(Result { () throws(StoreError) in
                var staged = try DataStore.stage(records, for: output, temporary: temporary)
                staged.stageJournal()
                return staged
            })
        }
        return staging
    }
}

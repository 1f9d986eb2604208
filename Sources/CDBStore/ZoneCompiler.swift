import Dispatch
import DNSWire
import ZoneFile

/// The compile pipeline shared by `compile` and `refresh`: read (inflating
/// gzip), parse, strip, check, then install data.cdb atomically. data.cdb
/// is replaced only when every step before it succeeded; what is built
/// under its temporary name meanwhile is removed when a step fails.
public enum ZoneCompiler {
    public struct Summary: Sendable {
        public var serial: UInt32
        public var delegations: Int
        public var kept: Int
        public var stripped: Int
        /// Why the journal beside data.cdb did not follow the install, if it did not.
        public var journalNote: String?

        public init(_ zone: CheckedZone) {
            serial = zone.soa.serial
            delegations = zone.delegationCount
            kept = zone.records.count
            stripped = zone.strippedCount
        }
    }

    /// Judges the whole parsed zone, DNSSEC records included, before its
    /// data.cdb may be installed: DNSSEC and ZONEMD verification.
    public typealias Verification = (ParsedZone) throws(ZoneError) -> Void

    public static func compile(zoneText: ZoneText, options: ZoneParser.Options, output: String,
                               verify: Verification? = nil) throws -> Summary {
        let (zone, staged) = try prepareAndStage(zoneText: zoneText, options: options, output: output, verify: verify)
        var summary = Summary(zone)
        summary.journalNote = try staged.get().install()
        return summary
    }

    /// Parses, then checks the zone on this thread while another writes and
    /// syncs data.cdb under its temporary name (`DataStore.stage`): the two
    /// take about as long, and by then the inflating thread has finished,
    /// so the second core is free. Returns the staged file, or why it could
    /// not be written, for the caller to install or discard once it has
    /// judged the zone; when the checks fail it is discarded here and the
    /// check's error thrown. `output` itself is never touched. `temporary`
    /// is where it is staged (see `DataStore.stage`).
    ///
    /// With `verify`, the zone is parsed with its DNSSEC records and judged by
    /// `verify` while data.cdb is staged from the records it keeps (stripped
    /// unless `options` keeps them): one parse, and the staging thread uses
    /// the core the verification's single-threaded parts leave idle. Plain
    /// compiles pay nothing for it.
    public static func prepareAndStage(zoneText: ZoneText, options: ZoneParser.Options, output: String,
                                       temporary: String? = nil, verify: Verification? = nil)
        throws(ZoneError) -> (CheckedZone, Result<DataStore.Staged, StoreError>) {
        var parsing = options
        if verify != nil { parsing.keepDNSSEC = true }
        let parsed = try ZoneParser.parse(zoneText, options: parsing)
        let kept = verify != nil && !options.keepDNSSEC ? parsed.strippingDNSSEC() : parsed
        let staging = Handoff<DataStore.Staged, StoreError>()
        let records = kept.records
        DispatchQueue.global(qos: .userInitiated).async {
            staging.finish(Result { () throws(StoreError) in
                var staged = try DataStore.stage(records, for: output, temporary: temporary)
                let new = [ResourceRecord](records)
                staged.stageJournal(new: new, zoneSize: new.reduce(0) { $0 + $1.wireSize })
                return staged
            })
        }
        let zone: CheckedZone
        do {
            try verify?(parsed)
            zone = try ZoneChecker.check(kept, apex: options.origin, file: zoneText.path)
        } catch {
            if case .success(let staged) = staging.wait() { staged.discard() }
            throw error
        }
        return (zone, staging.wait())
    }
}

/// A result one thread hands to another, once: the compile pipeline's
/// staging thread, and `refresh`'s signature check on a thread of its own.
public final class Handoff<Success: Sendable, Failure: Error>: @unchecked Sendable {
    private var result: Result<Success, Failure>?
    private let done = DispatchSemaphore(value: 0)

    public init() {}

    public func finish(_ result: Result<Success, Failure>) {
        self.result = result
        done.signal()
    }

    /// Blocks until `finish`; may be called again, and returns the same.
    public func wait() -> Result<Success, Failure> {
        done.wait()
        done.signal()
        return result!
    }
}

import DNSWire
import ZoneFile

/// The compile pipeline shared by `compile` and `refresh`: read (inflating
/// gzip), parse, strip, check, then write data.cdb atomically. Nothing is
/// written unless every step before it succeeded.
public enum ZoneCompiler {
    public struct Summary: Sendable {
        public var serial: UInt32
        public var delegations: Int
        public var kept: Int
        public var stripped: Int

        public init(_ zone: CheckedZone) {
            serial = zone.soa.serial
            delegations = zone.delegationCount
            kept = zone.records.count
            stripped = zone.strippedCount
        }
    }

    public static func compile(zoneText: ZoneText, options: ZoneParser.Options, output: String) throws -> Summary {
        let zone = try prepare(zoneText: zoneText, options: options)
        try DataStore.write(zone.records, to: output)
        return Summary(zone)
    }

    /// Parse and check only, writing nothing: `refresh` must judge the
    /// signature, the serial and the TLD count before it may install.
    public static func prepare(zoneText: ZoneText, options: ZoneParser.Options) throws(ZoneError) -> CheckedZone {
        let parsed = try ZoneParser.parse(zoneText, options: options)
        return try ZoneChecker.check(parsed, apex: options.origin, file: zoneText.path)
    }
}

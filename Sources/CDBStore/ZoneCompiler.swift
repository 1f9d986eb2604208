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
    }

    public static func compile(zoneText: ZoneText, options: ZoneParser.Options, output: String) throws -> Summary {
        let parsed = try ZoneParser.parse(zoneText, options: options)
        let zone = try ZoneChecker.check(parsed, apex: options.origin, file: zoneText.path)
        try DataStore.write(zone.records, to: output)
        return Summary(serial: zone.soa.serial, delegations: zone.delegationCount, kept: zone.records.count, stripped: zone.strippedCount)
    }
}

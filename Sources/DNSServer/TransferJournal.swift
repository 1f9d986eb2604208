import CDBStore
import DNSWire
import Logging

/// `serve`'s side of the journal (`ZoneJournal`) that IXFR is answered
/// from. `refresh` and `compile` record each version's difference when
/// they install it; a data.cdb put in place by another tool (tinydns-data,
/// a copy) comes with no such record, so the server, which still holds
/// the version it served before, works the difference out itself and
/// writes it beside the data for the next start (when it may write there:
/// else it keeps it in memory, with one log line).
///
/// Holds the last version's records while transfers are allowed: the
/// price of IXFR after any reload (1 to 4 MB for the root).
final class TransferJournal {
    private let dataPath: String
    private let logger: Logger
    private var previous: (records: [ResourceRecord], journal: ZoneJournal)?

    init(dataPath: String, logger: Logger) {
        self.dataPath = dataPath
        self.logger = logger
    }

    /// The journal to serve `records` (the version just loaded) with.
    func journal(for records: [ResourceRecord]) -> ZoneJournal {
        var onDisk = ZoneJournal()
        do {
            onDisk = try ZoneJournal.read(forData: dataPath)
        } catch {
            logger.warning("journal ignored, IXFR will send the whole zone until the next version", metadata: ["error": "\(error)"])
        }
        let serial = records.first { $0.type == .soa }.flatMap { SOAFields(rdata: $0.rdata)?.serial }
        var journal = ZoneJournal()
        if serial != nil && onDisk.lastSerial == serial {
            journal = onDisk
        } else if let previous, let difference = ZoneDifference(old: previous.records, new: records),
                  SerialNumber.isNewer(difference.toSerial, than: difference.fromSerial) {
            let base = onDisk.lastSerial == difference.fromSerial ? onDisk : previous.journal
            journal = base.appending(difference, zoneSize: records.reduce(0) { $0 + $1.wireSize })
            do {
                try journal.stage(forData: dataPath).commit()
                logger.info("journal: recorded the difference from serial \(difference.fromSerial) to \(difference.toSerial)")
            } catch {
                logger.warning("journal kept in memory only", metadata: ["error": "\(error)"])
            }
        }
        previous = (records, journal)
        return journal
    }
}

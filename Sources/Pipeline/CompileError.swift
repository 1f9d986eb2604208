import CDBStore
import DNSSEC
import ZoneFile

/// Why the compile pipeline refused a zone or could not install it, with
/// the step that failed: `compile` picks its exit status from it.
public enum CompileError: Error, Sendable, CustomStringConvertible {
    /// The zone could not be read, does not parse, or fails the checks.
    case zone(ZoneError)
    /// The zone is not trusted: its DNSSEC chain or ZONEMD digest.
    case proof(VerificationError)
    /// data.cdb could not be written or renamed into place.
    case store(StoreError)

    /// `compile`'s exit status, documented in README.md: 4 for a zone that
    /// is not trusted, as `verify` exits, 1 for every other failure.
    public var exitCode: Int32 {
        switch self {
        case .proof: 4
        case .zone, .store: 1
        }
    }

    /// A proof's failure reads as the parser's errors do (`file:line:
    /// record: reason`), so that every refusal of the zone, whichever step
    /// made it, looks the same in compile's and refresh's output.
    public var description: String {
        switch self {
        case .zone(let error):
            return "\(error)"
        case .proof(let error):
            let record = error.owner.map { "\($0)" + (error.type.map { " \($0)" } ?? "") + ": " } ?? ""
            return "\(ZoneError(file: error.file, line: error.line, message: record + error.reason))"
        case .store(let error):
            return "\(error)"
        }
    }
}

import CDBStore
import DNSWire
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

/// The files kept beside data.cdb, as `refresh`, `serve` and `check` read
/// them: the input as `data.cdb.state`, `data.cdb.anchors` and `data.cdb.journal`. What reads
/// must hold what the readers promise: every time one the clock can be
/// subtracted from (the arithmetic `serve` does with it), and the text
/// written back reads back the same. Errors are expected; crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let now = Int64(time(nil))
    withInputFile(data, size, named: "data.cdb.state") { path in
        guard let state = try? RefreshState.read(forData: String(path.dropLast(".state".count))) else { return }
        for t in [state.lastSuccess, state.lastInstall, state.signaturesExpire].compactMap({ $0 }) {
            precondition(UTCTime.representable.contains(t), "state time \(t) out of range")
            _ = now - t
        }
        precondition(RefreshState(parsing: state.text) == state, "the state does not read back as written")
    }
    withInputFile(data, size, named: "data.cdb.anchors") { path in
        guard let anchors = try? TrustAnchorState.read(forData: String(path.dropLast(".anchors".count))) else { return }
        for key in anchors.keys {
            for t in [key.since, key.trustedFrom, key.validFrom, key.validUntil].compactMap({ $0 }) {
                precondition(UTCTime.representable.contains(t), "anchor time \(t) out of range")
            }
        }
        _ = anchors.summary(at: now)
        precondition((try? TrustAnchorState(parsing: anchors.text, path: "again")) == anchors, "the anchors do not read back as written")
    }
    withInputFile(data, size, named: "data.cdb.journal") { path in
        guard let journal = try? ZoneJournal.read(forData: String(path.dropLast(".journal".count))) else { return }
        precondition((try? ZoneJournal(decoding: journal.encoded(), path: "again")) == journal, "the journal does not read back as written")
    }
    return 0
}

@_cdecl("FuzzStateFiles_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

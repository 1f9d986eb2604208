import Answering
import CDBStore
import FuzzSupport

/// A data.cdb through the loader, and what loads is indexed as `serve`
/// would index it; then the journal's reading of it entry by entry, as
/// an install over it works out the difference (here from the file to
/// itself: `DataStore.stage` keeps its temporary name for the signal
/// handler, a deliberate leak a fuzzer would count once per input).
/// Errors are expected; crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, named: "data.cdb") { path in
        if let records = try? DataStore.load(path: path) {
            _ = try? ZoneIndex(records: records)
        }
        _ = DataStore.difference(installed: path, staged: path)
    }
    return 0
}

@_cdecl("FuzzDataStore_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

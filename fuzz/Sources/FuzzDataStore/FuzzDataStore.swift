import Answering
import CDBStore
import FuzzSupport

/// A data.cdb through the loader, and what loads is indexed as `serve`
/// would index it. Errors are expected; crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, named: "data.cdb") { path in
        if let records = try? DataStore.load(path: path) {
            _ = try? ZoneIndex(records: records)
        }
    }
    return 0
}

@_cdecl("FuzzDataStore_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

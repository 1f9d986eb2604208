import Answering
import DNSWire
import FuzzSupport
import ZoneFile

/// Zone input through `ZoneText` (plain, or inflated when it starts with
/// gzip's magic; capped at 1 MiB decompressed, so a gzip bomb costs
/// little), the parser and the checker, with and without DNSSEC; a zone
/// that passes is indexed as `serve` would index it. Errors are expected;
/// crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, named: "zone") { path in
        for keepDNSSEC in [false, true] {
            guard let text = try? ZoneText(path: path, maximumSize: 1 << 20),
                  let parsed = try? ZoneParser.parse(text, options: .init(keepDNSSEC: keepDNSSEC)),
                  let checked = try? ZoneChecker.check(parsed, apex: .root, file: path) else { continue }
            _ = try? ZoneIndex(records: Array(checked.records))
        }
    }
    return 0
}

@_cdecl("FuzzZoneFile_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

import DNSWire
import FuzzSupport
import ZoneFile

/// An AXFR reply as it comes off the TCP connection (2-byte length, message,
/// and again) through the transfer reader, its text through the zone parser
/// and the checker, as `refresh --url axfr://` reads a transfer; the same
/// messages as an IXFR reply through its reader, and its differences
/// applied to a small zone. The query ID is the first message's, so that
/// inputs get past the ID check. Errors are expected; crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = input(data, size)
    guard bytes.count >= 4 else { return 0 }
    var reader = TransferReader(queryID: UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
    let text = ZoneText(streaming: "axfr", maximumSize: 1 << 20)
    var offset = 0
    var failure: ZoneError?
    while failure == nil, !reader.isComplete, offset + 2 <= bytes.count {
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        guard offset + 2 + length <= bytes.count else { break }
        let message = Array(bytes[(offset + 2)..<(offset + 2 + length)])
        offset += 2 + length
        do {
            if !text.append(try reader.read(message)) { return 0 }
        } catch {
            failure = ZoneError(file: "axfr", message: error.description)
        }
    }
    text.finish(failure ?? (reader.isComplete ? nil : ZoneError(file: "axfr", message: "cut short")))
    var incremental = IncrementalReader(queryID: reader.queryID, installed: 1)
    offset = 0
    while !incremental.isComplete, offset + 2 <= bytes.count {
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        guard offset + 2 + length <= bytes.count, (try? incremental.read(Array(bytes[(offset + 2)..<(offset + 2 + length)]))) != nil else { break }
        offset += 2 + length
    }
    if incremental.isComplete { _ = try? incremental.zone(from: installed) }
    for keepDNSSEC in [false, true] {
        guard let parsed = try? ZoneParser.parse(text, options: .init(keepDNSSEC: keepDNSSEC)) else { continue }
        _ = try? ZoneChecker.check(parsed, apex: .root, file: "axfr")
    }
    return 0
}

/// What the differences are applied to: an apex with serial 1.
let installed = try! Array(ZoneParser.parse(Array("""
    . 86400 IN SOA a. b. 1 1800 900 604800 86400
    . 86400 IN NS a.
    a. 86400 IN A 192.0.2.1

    """.utf8), file: "installed").records)

@_cdecl("FuzzTransfer_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

import DNSWire
import FuzzSupport
import ZoneFile

/// An AXFR reply as it comes off the TCP connection (2-byte length, message,
/// and again) through the transfer reader, its text through the zone parser
/// and the checker, as `refresh --url axfr://` reads a transfer. The query ID
/// is the first message's, so that inputs get past the ID check. Errors are
/// expected; crashes are not.
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
    for keepDNSSEC in [false, true] {
        guard let parsed = try? ZoneParser.parse(text, options: .init(keepDNSSEC: keepDNSSEC)) else { continue }
        _ = try? ZoneChecker.check(parsed, apex: .root, file: "axfr")
    }
    return 0
}

@_cdecl("FuzzTransfer_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

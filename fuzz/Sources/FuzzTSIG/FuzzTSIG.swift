import DNSWire
import FuzzSupport

/// The same bytes as a signed message through the TSIG record reader (as
/// serve reads a transfer query or a NOTIFY, and refresh each message of a
/// transfer), and as a key file through its parser (`--tsig-key`). What
/// reads must write back the same: the record appended again to the message
/// it was taken from reads back equal. Errors are expected; crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(input(data, size))
    if let (record, start) = try? TSIGRecord.parse(bytes) {
        var again = TSIGRecord.removing(from: bytes, at: start)
        precondition(again.count == start, "the message without its TSIG is not the bytes before it")
        _ = record.variables
        record.append(to: &again)
        let reread = try? TSIGRecord.parse(again)
        precondition(reread?.record == record && reread?.start == start, "a TSIG record does not read back as written")
    }
    if let keys = try? TSIGKeyFile.parse(bytes, path: "fuzz.key") {
        for key in keys {
            precondition(key.name == key.name.lowercased() && !key.secret.isEmpty, "a key read with a name not lowercased or no secret")
        }
        precondition(Set(keys.map(\.name)).count == keys.count, "a key name read twice")
    }
    return 0
}

@_cdecl("FuzzTSIG_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

import CLibFuzzer

/// A libFuzzer target's whole job: hand libFuzzer's driver the arguments
/// and the function to fuzz. SwiftPM links an executable with `main` defined
/// as `<Module>_main`, so each target's `<Module>_main` calls this instead
/// of libFuzzer's own `main` running it.
public func runLibFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, test)
}

/// The input as a buffer (libFuzzer may pass no pointer for an empty one).
public func input(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
}

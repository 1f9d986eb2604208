#if canImport(Glibc)
import Glibc
#endif

/// The text of the current `errno`.
func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// CPUs this process may run on: online CPUs (NSD and Knot default to the
/// same: one worker per core).
public func availableCPUCount() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

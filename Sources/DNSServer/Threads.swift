#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread running a closure. The UDP workers are long-lived
/// loops that block in the kernel; they need neither Dispatch nor an event
/// loop, and a raw thread keeps them off any shared pool.
final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    private init(_ body: @escaping () -> Void) {
        self.body = body
    }

    static func start(_ body: @escaping () -> Void) -> OSThread {
        let thread = OSThread(body)
        let context = Unmanaged.passRetained(thread).toOpaque()
        let rc = pthread_create(&thread.handle, nil, { context in
            let thread = Unmanaged<OSThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return thread
    }

    /// Runs `body` on a thread nobody joins: its resources go when it ends.
    static func detach(_ body: @escaping () -> Void) {
        pthread_detach(start(body).handle)
    }

    func join() {
        pthread_join(handle, nil)
    }
}

/// The text of the current `errno`.
func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// CPUs this process may run on: online CPUs (NSD and Knot default to the
/// same: one worker per core).
public func availableCPUCount() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

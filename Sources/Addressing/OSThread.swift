#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread running a closure. The UDP workers are long-lived
/// loops that block in the kernel, and refresh's signature check, transfer
/// and deadline block in gpgme or a socket; they need neither Dispatch nor an
/// event loop, and a raw thread keeps them off any shared pool (and refresh
/// off Foundation's Thread, which would link all of Foundation and ICU).
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    private init(_ body: @escaping () -> Void) {
        self.body = body
    }

    public static func start(_ body: @escaping () -> Void) -> OSThread {
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
    public static func detach(_ body: @escaping () -> Void) {
        pthread_detach(start(body).handle)
    }

    public func join() {
        pthread_join(handle, nil)
    }
}

import Dispatch

/// A result one thread hands to another, once: the compile pipeline's
/// staging thread, and `refresh`'s signature check on a thread of its own.
public final class Handoff<Success: Sendable, Failure: Error>: @unchecked Sendable {
    private var result: Result<Success, Failure>?
    private let done = DispatchSemaphore(value: 0)

    public init() {}

    public func finish(_ result: Result<Success, Failure>) {
        self.result = result
        done.signal()
    }

    /// Blocks until `finish`; may be called again, and returns the same.
    public func wait() -> Result<Success, Failure> {
        done.wait()
        done.signal()
        return result!
    }
}

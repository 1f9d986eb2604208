import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The operator's words for a socket error from SwiftNIO or a client built
/// on it: `Connection refused`, `Address already in use`. NIO's own
/// descriptions name internal calls (`bind(descriptor:ptr:bytes:)`) and
/// nest parentheses; a one-line error should say what went wrong and where,
/// and the caller says where.
public func networkErrorText(_ error: any Error) -> String {
    if let error = error as? IOError {
        return String(cString: strerror(error.errnoCode))
    }
    if let error = error as? NIOConnectionError {
        if let first = error.connectionErrors.first { return networkErrorText(first.error) }
        if let dns = error.dnsAAAAError ?? error.dnsAError { return "cannot resolve \(error.host): \(dns)" }
        return "cannot connect to \(error.host)"
    }
    return String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
}

/// Why a refresh failed, as one line for cron's mail, with the class of
/// failure that picks the exit status: a monitoring script can tell "the
/// network is down" (try again later) from "the signature is bad" (someone
/// should look) without parsing the text.
public struct RefreshError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, CaseIterable {
        /// Could not write data.cdb or the state file, or another local failure.
        case local
        /// DNS, connect, TLS, timeout, an HTTP error status (a missing .sig
        /// is a 404), a download over the size cap.
        case fetch
        /// No good signature by the pinned key: bad, by another key, key
        /// revoked or expired, unusable keyring, gpg not installed.
        case signature
        /// Validly signed (or a local file) but refused: corrupt or truncated
        /// gzip, a zone that does not parse or check, a serial older than
        /// the installed one, fewer TLDs than the floor.
        case data
        /// Another refresh of the same data.cdb is running.
        case busy

        /// The process exit status, documented in README.md; 0 is success
        /// (installed, or nothing new) and 64 is a usage error.
        public var exitCode: Int32 {
            switch self {
            case .local: 1
            case .fetch: 2
            case .signature: 3
            case .data: 4
            case .busy: 5
            }
        }
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

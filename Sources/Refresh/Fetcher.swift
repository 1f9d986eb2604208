import Addressing
import AsyncHTTPClient
import BuildInfo
import Logging
import NIOCore
import NIOHTTP1
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// How downloads behave. The defaults suit a nightly job against internic;
/// tests shorten the timeouts so that a server that never answers fails fast.
public struct FetchOptions: Sendable {
    /// Time to establish the TCP (and TLS) connection.
    public var connectTimeout: Duration = .seconds(10)
    /// Whole transfer of one file, per attempt, from request to last byte:
    /// a server that trickles bytes cannot hold the cron job forever.
    public var timeout: Duration = .seconds(300)
    /// Attempts after the first one, for errors that may pass (connection
    /// failures, timeouts, 5xx, 408, 429); never for 404 or a bad size.
    public var retries = 2
    /// Wait before the first retry; doubled for each further one.
    public var retryDelay: Duration = .seconds(2)
    /// Largest root.zone.gz accepted (the real one is about 1 MiB).
    public var maximumSize = 32 << 20
    public var maximumRedirects = 5

    public init() {}
}

/// HTTP validators of a downloaded file, kept in the state file so that the
/// next run can ask "changed since?" and an unchanged zone costs one
/// request and no transfer.
public struct Validators: Sendable, Equatable {
    public var etag: String?
    public var lastModified: String?

    public init(etag: String?, lastModified: String?) {
        self.etag = etag
        self.lastModified = lastModified
    }

    public var isEmpty: Bool { etag == nil && lastModified == nil }
}

public enum FetchResult: Sendable, Equatable {
    /// 304: the copy installed last time is still current.
    case notModified
    case downloaded(bytes: Int, validators: Validators)
}

/// Downloads over HTTP or HTTPS with async-http-client: connect and total
/// timeouts, retries with exponential backoff, redirects (a bounded number,
/// no cycles), a size cap checked against Content-Length before the body and
/// again on every chunk, and conditional GET. What it fetches is not
/// trusted: the signature is checked end to end afterwards, so any mirror
/// (an ISP's internal copy, plain HTTP) will do.
public struct Fetcher: Sendable {
    let client: HTTPClient
    let options: FetchOptions
    let logger: Logger
    let progress: Progress?

    /// Runs `body` with a fetcher whose client is shut down on every path.
    public static func with<T>(
        options: FetchOptions, logger: Logger, progress: Progress? = nil,
        _ body: (Fetcher) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: options.maximumRedirects, allowCycles: false),
            timeout: .init(connect: .init(options.connectTimeout), read: .init(min(options.timeout, .seconds(60))))
        )
        configuration.decompression = .disabled
        return try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            try await body(Fetcher(client: client, options: options, logger: logger, progress: progress))
        }
    }

    /// Fetches `url` into `path` (created or truncated). With `conditional`
    /// validators, a 304 answer returns `.notModified` and leaves `path`
    /// empty. `maximumSize` overrides the option (the .sig is tiny).
    public func fetch(_ url: String, to path: String, conditional: Validators? = nil, maximumSize: Int? = nil) async throws(RefreshError) -> FetchResult {
        let limit = maximumSize ?? options.maximumSize
        var attempt = 0
        while true {
            do {
                return try await withTimeout(url) {
                    try await transfer(url, to: path, conditional: conditional, limit: limit)
                }
            } catch let failure as Failure where failure.retryable && attempt < options.retries {
                let delay = options.retryDelay * (1 << attempt)
                attempt += 1
                logger.warning("\(failure.message); retry \(attempt) of \(options.retries) in \(delay)")
                try? await Task.sleep(for: delay)
            } catch let failure as Failure {
                throw RefreshError(.fetch, failure.message)
            } catch let error as RefreshError {
                throw error
            } catch {
                throw RefreshError(.fetch, "\(url): \(error)")
            }
        }
    }

    /// A download error, with whether trying again may help.
    struct Failure: Error {
        var message: String
        var retryable: Bool
    }

    /// Races the transfer against the total timeout. async-http-client's own
    /// deadline ends when the response head arrives, so the body needs this.
    private func withTimeout(_ url: String, _ operation: @escaping @Sendable () async throws -> FetchResult) async throws -> FetchResult {
        let timeout = options.timeout
        return try await withThrowingTaskGroup(of: FetchResult.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Failure(message: "\(url): no complete answer within \(timeout)", retryable: true)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func transfer(_ url: String, to path: String, conditional: Validators?, limit: Int) async throws -> FetchResult {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: BuildInfo.userAgent)
        if let conditional {
            if let etag = conditional.etag { request.headers.add(name: "If-None-Match", value: etag) }
            if let date = conditional.lastModified { request.headers.add(name: "If-Modified-Since", value: date) }
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .init(options.timeout), logger: logger)
        } catch {
            throw Failure(message: "\(url): \(Self.describe(error))", retryable: true)
        }
        switch response.status.code {
        case 200:
            break
        case 304 where conditional != nil:
            return .notModified
        case 408, 429, 500...599:
            throw Failure(message: "\(url): HTTP \(response.status.code) \(response.status.reasonPhrase)", retryable: true)
        default:
            throw Failure(message: "\(url): HTTP \(response.status.code) \(response.status.reasonPhrase)", retryable: false)
        }
        let declared = response.headers.first(name: "Content-Length").flatMap(Int.init)
        if let declared, declared > limit {
            throw Failure(message: "\(url): \(declared) bytes is over the \(Self.size(limit)) limit", retryable: false)
        }
        let file = try OutputFile(path)
        var received = 0
        progress?.start(name: String(url.split(separator: "/").last ?? ""), total: declared)
        defer { progress?.finish() }
        do {
            for try await chunk in response.body {
                received += chunk.readableBytes
                guard received <= limit else {
                    throw Failure(message: "\(url): more than the \(Self.size(limit)) limit", retryable: false)
                }
                try chunk.withUnsafeReadableBytes { try file.write($0) }
                progress?.update(received)
            }
        } catch let error as Failure {
            throw error
        } catch let error as RefreshError {
            throw error
        } catch {
            throw Failure(message: "\(url): after \(received) bytes: \(Self.describe(error))", retryable: true)
        }
        if let declared, declared != received {
            throw Failure(message: "\(url): got \(received) of \(declared) bytes", retryable: true)
        }
        return .downloaded(bytes: received, validators: Validators(
            etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified")))
    }

    /// Short, one-line text for the errors a download meets.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            let known: [(HTTPClientError, String)] = [
                (.connectTimeout, "connect timed out"),
                (.readTimeout, "no data for too long (read timeout)"),
                (.deadlineExceeded, "no answer in time"),
                (.remoteConnectionClosed, "the server closed the connection"),
                (.redirectLimitReached, "too many redirects"),
                (.redirectCycleDetected, "redirect loop"),
            ]
            if let text = known.first(where: { $0.0 == error })?.1 { return text }
        }
        return networkErrorText(error)
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}

/// The file a download goes to; closed on every path.
private final class OutputFile {
    let path: String
    let fd: Int32

    init(_ path: String) throws(RefreshError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RefreshError(.local, "\(path): cannot create: \(errnoText())") }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(RefreshError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RefreshError(.local, "\(path): write failed: \(errnoText())") }
            offset += n
        }
    }

    deinit { close(fd) }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

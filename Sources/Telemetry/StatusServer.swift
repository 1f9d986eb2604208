import NIOCore
import NIOHTTP1
import NIOPosix

/// The operator's HTTP endpoint (default 127.0.0.1:8053): `GET /health`
/// (JSON, 200 or 503) and `GET /metrics` (Prometheus text format). One
/// event-loop thread of its own, so that scrapes never touch the threads
/// that answer DNS.
public final class StatusServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    public var localAddress: SocketAddress? { channel.localAddress }

    /// Binds and starts serving. `health` is called per request and builds
    /// the report from the monitor's latest state; `metrics` renders counters.
    public init(host: String, port: Int, health: @escaping @Sendable () -> HealthReport,
                metrics: @escaping @Sendable () -> String) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                        channel.pipeline.addHandler(StatusHandler(health: health, metrics: metrics))
                    }
                }
                .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port)
                .wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

final class StatusHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let health: @Sendable () -> HealthReport
    let metrics: @Sendable () -> String

    init(health: @escaping @Sendable () -> HealthReport, metrics: @escaping @Sendable () -> String) {
        self.health = health
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let (status, type, body): (HTTPResponseStatus, String, String)
        if request.method != .GET && request.method != .HEAD {
            (status, type, body) = (.methodNotAllowed, "text/plain", "GET or HEAD only\n")
        } else if path == "/health" {
            let report = health()
            (status, type, body) = (HTTPResponseStatus(statusCode: report.httpStatus), "application/json", report.json)
        } else if path == "/metrics" {
            (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
        } else {
            (status, type, body) = (.notFound, "text/plain", "try /health or /metrics\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

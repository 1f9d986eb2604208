import NIOCore
import NIOHTTP1
import NIOPosix

/// The operator's HTTP endpoint (default 127.0.0.1:8053): `GET /health`
/// (JSON, 200 or 503) and `GET /metrics` (Prometheus text format). One
/// event-loop thread of its own, so that scrapes never touch the threads
/// that answer DNS. A connection must send each request within a deadline
/// and may stay open without one only so long, and the open connections
/// are capped: a client that holds sockets open cannot exhaust descriptors.
public final class StatusServer: Sendable {
    public struct Limits: Sendable {
        /// A keep-alive connection with no request under way is closed after this.
        public var idleTimeout: TimeAmount
        /// From a request's first byte until its response is sent.
        public var requestTimeout: TimeAmount
        /// At the cap, the connection open longest is closed for a new one.
        public var maximumConnections: Int

        public init(idleTimeout: TimeAmount = .seconds(10), requestTimeout: TimeAmount = .seconds(5), maximumConnections: Int = 32) {
            self.idleTimeout = idleTimeout
            self.requestTimeout = requestTimeout
            self.maximumConnections = maximumConnections
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    public var localAddress: SocketAddress? { channel.localAddress }

    /// Binds and starts serving. `health` is called per request and builds
    /// the report from the monitor's latest state; `metrics` renders counters.
    public init(host: String, port: Int, limits: Limits = Limits(), health: @escaping @Sendable () -> HealthReport,
                metrics: @escaping @Sendable () -> String) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        do {
            let connections = try loop.submit {
                NIOLoopBound(StatusConnections(limit: limits.maximumConnections), eventLoop: loop)
            }.wait()
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(StatusConnectionTimer(limits: limits, connections: connections.value))
                        try sync.configureHTTPServerPipeline(withErrorHandling: true)
                        try sync.addHandler(StatusHandler(health: health, metrics: metrics))
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
        } else {
            context.triggerUserOutboundEvent(StatusConnectionTimer.ResponseSent(), promise: nil)
        }
    }
}

/// The open connections of the endpoint, on its one event loop.
final class StatusConnections {
    private let limit: Int
    private var open: [ObjectIdentifier: (opened: NIODeadline, channel: any Channel)] = [:]

    init(limit: Int) {
        self.limit = limit
    }

    func opened(_ channel: any Channel) {
        if open.count >= limit, let oldest = open.min(by: { $0.value.opened < $1.value.opened }) {
            open[oldest.key] = nil
            oldest.value.channel.close(promise: nil)
        }
        open[ObjectIdentifier(channel)] = (.now(), channel)
    }

    func closed(_ channel: any Channel) {
        open[ObjectIdentifier(channel)] = nil
    }
}

/// First in a connection's pipeline, where the bytes arrive: closes the
/// connection when no request starts within the idle timeout, or a request
/// that started (its first byte) is not answered within the request
/// timeout, however slowly its bytes keep coming.
final class StatusConnectionTimer: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData

    /// Sent down the pipeline by the handler once a keep-alive response is written.
    struct ResponseSent {}

    private let limits: StatusServer.Limits
    private let connections: StatusConnections
    private var timer: Scheduled<Void>?
    private var requestUnderWay = false

    init(limits: StatusServer.Limits, connections: StatusConnections) {
        self.limits = limits
        self.connections = connections
    }

    func channelActive(context: ChannelHandlerContext) {
        connections.opened(context.channel)
        arm(limits.idleTimeout, context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        connections.closed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !requestUnderWay {
            requestUnderWay = true
            arm(limits.requestTimeout, context: context)
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ResponseSent else { return context.triggerUserOutboundEvent(event, promise: promise) }
        requestUnderWay = false
        arm(limits.idleTimeout, context: context)
        promise?.succeed()
    }

    private func arm(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { channel.close(promise: nil) }
    }
}

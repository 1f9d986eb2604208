import Addressing
import Answering
import DNSWire
import NIOCore
import NIOPosix
import Telemetry
import TSIG
#if canImport(Glibc)
import Glibc
#endif

/// DNS over TCP per RFC 7766, on SwiftNIO: 2-byte length framing, queries
/// pipelined and answered in order, reads and writes of any size, an idle
/// timeout that is also each message's deadline, and a cap on open
/// connections.
///
/// TCP gets its own single-threaded event loop, separate from the UDP
/// workers: a slow or hostile TCP client can at worst keep that thread busy,
/// never a UDP worker. Its costs (a buffer per reply, futures) do not matter
/// at TCP's volume, which is why it can use NIO where UDP cannot.
final class TCPServer: @unchecked Sendable {
    struct Settings: Sendable {
        var idleTimeout: TimeAmount = .seconds(10)
        var maximumConnections = 256
        /// Clients that may transfer the zone (AXFR, IXFR); empty: none.
        var transferClients: [IPPrefix] = []
    }

    private let group: MultiThreadedEventLoopGroup
    private var channels: [Channel] = []
    private let connections: NIOLoopBound<TCPConnections>
    /// Set by `start`, before the first connection is accepted.
    private var serving: ServingContext?

    /// Binds every address now, while still privileged, but accepts no
    /// connection until `start`: the zone is loaded after privileges are
    /// dropped, and connections wait in the listen queue meanwhile.
    init(addresses: [ListenAddress], settings: Settings) throws(ServeError) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        connections = try! loop.submit {
            NIOLoopBound(TCPConnections(settings: settings, loop: loop), eventLoop: loop)
        }.wait()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = DNSOverTCPHandler(serving: serving!, connections: connections.value)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        do {
            for address in addresses {
                channels.append(try bootstrap.bind(host: address.host, port: Int(address.port)).wait())
            }
        } catch {
            let failed = addresses[channels.count]
            for channel in channels { try? channel.close().wait() }
            try? group.syncShutdownGracefully()
            throw ServeError("cannot bind tcp \(failed): \(networkErrorText(error))")
        }
    }

    /// Starts accepting connections, answering from `serving`'s zone.
    func start(_ serving: ServingContext) {
        self.serving = serving
        let connections = self.connections
        try? group.next().submit { connections.value.startSweeping() }.wait()
        for channel in channels {
            try? channel.setOption(.autoRead, value: true).wait()
            channel.read()
        }
    }

    /// Advances `pulse` from the event loop, once it has run what was
    /// queued before: the watchdog's proof that the loop still runs.
    func beat(_ pulse: Pulse) {
        group.next().execute { pulse.beat() }
    }

    /// Stops accepting, closes every connection, stops the event loop.
    func stop() {
        for channel in channels { try? channel.close().wait() }
        let connections = self.connections
        try? group.next().submit { connections.value.closeAll() }.wait()
        try? group.syncShutdownGracefully()
    }
}

/// The open connections, owned by the TCP event loop. Enforces the cap
/// (closing the oldest idle connection first, so a flood of new clients
/// pushes out the ones doing nothing) and the idle timeout.
final class TCPConnections {
    let settings: TCPServer.Settings
    let loop: EventLoop
    private var open: [ObjectIdentifier: DNSOverTCPHandler] = [:]
    private var sweeping = true

    init(settings: TCPServer.Settings, loop: EventLoop) {
        self.settings = settings
        self.loop = loop
    }

    func opened(_ handler: DNSOverTCPHandler) {
        if open.count >= settings.maximumConnections, let victim = victim() {
            open[ObjectIdentifier(victim)] = nil
            victim.close()
        }
        open[ObjectIdentifier(handler)] = handler
    }

    func closed(_ handler: DNSOverTCPHandler) {
        open[ObjectIdentifier(handler)] = nil
    }

    /// The idle connection quiet for longest; failing that (every
    /// connection mid-query), the one quiet for longest.
    private func victim() -> DNSOverTCPHandler? {
        let all = open.values
        let idle = all.filter(\.isIdle)
        return (idle.isEmpty ? Array(all) : idle).min { $0.lastActivity < $1.lastActivity }
    }

    /// Once a second, closes connections quiet for longer than the timeout,
    /// and those whose current message began longer ago than that (RFC 7766
    /// §6.2.3: a client trickling a byte at a time keeps a connection busy,
    /// never quiet). A connection with a reply still waiting for the client
    /// to read it is not quiet while that reply makes progress, and is
    /// closed when it stops.
    func startSweeping() {
        loop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            guard sweeping else { return }
            let deadline = NIODeadline.now() - settings.idleTimeout
            for handler in open.values where handler.lastActivity < deadline || handler.messageStarted(before: deadline) {
                open[ObjectIdentifier(handler)] = nil
                handler.close()
            }
            startSweeping()
        }
    }

    func closeAll() {
        sweeping = false
        for handler in open.values { handler.close() }
        open = [:]
    }
}

/// One TCP connection: frames, answers and replies in order.
final class DNSOverTCPHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let serving: ServingContext
    private let connections: TCPConnections
    private var context: ChannelHandlerContext?
    /// Bytes of a query not yet complete.
    private var pending: ByteBuffer?
    private var writesInFlight = 0
    /// Queries relayed to the live roots (expired data) not yet answered.
    private var forwardsInFlight = 0
    /// Set at connect: whether this client is in `--allow-transfer`.
    private var transferAllowed = false
    private var peer: IPEndpoint?
    /// A zone transfer being sent; queries after it wait in `pending`.
    private var transfer: Transfer?
    private var inputClosed = false
    private var closing = false
    private(set) var lastActivity = NIODeadline.now()
    /// When the first byte of the message not yet complete arrived.
    private var messageStart: NIODeadline?

    /// Replies are built here first: the Responder writes into a caller's
    /// buffer, and the TCP loop is one thread, so one buffer serves all.
    nonisolated(unsafe) private static var scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: Responder.maximumReplySize, alignment: 16)

    init(serving: ServingContext, connections: TCPConnections) {
        self.serving = serving
        self.connections = connections
    }

    /// A message has been arriving since before `deadline`. Not while our
    /// own replies wait to be written: then we are not reading.
    func messageStarted(before deadline: NIODeadline) -> Bool {
        writesInFlight == 0 && messageStart.map { $0 < deadline } ?? false
    }

    /// Neither half a query received nor a reply waiting to be read.
    var isIdle: Bool { (pending?.readableBytes ?? 0) == 0 && writesInFlight == 0 && forwardsInFlight == 0 && transfer == nil }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        lastActivity = .now()
        peer = IPEndpoint(context.channel.remoteAddress)
        transferAllowed = peer.map { p in connections.settings.transferClients.contains { $0.contains(p.address) } } ?? false
        connections.opened(self)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed with messages of a transfer still to send: it failed.
        if let t = transfer, let peer {
            serving.secondaries?.transfer(peer, kind: t.kind, outcome: .failed, serial: nil, bytes: t.bytes, now: Int64(time(nil)))
            transfer = nil
        }
        connections.closed(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lastActivity = .now()
        if var buffered = pending, buffered.readableBytes > 0 {
            buffered.writeBuffer(&incoming)
            incoming = buffered
        }
        pending = nil
        var out: ByteBuffer?
        var completed = false
        let zone = serving.holder.zone
        let intercepting = serving.expiry.isIntercepting
        let facts = TransportFacts(transport: .tcp, transfers: serving.secondaries != nil, intercepting: intercepting,
                                   forwarding: serving.expiry.forwarder != nil)
        while transfer == nil, let length = incoming.getInteger(at: incoming.readerIndex, as: UInt16.self),
              incoming.readableBytes >= 2 + Int(length) {
            incoming.moveReaderIndex(forwardBy: 2)
            completed = true
            let reply = incoming.readWithUnsafeReadableBytes { query -> (Int, Reply?) in
                let q = UnsafeRawBufferPointer(rebasing: query[0..<Int(length)])
                return (Int(length), answer(q, zone: zone, facts: facts, context: context))
            }
            guard let reply else { continue }
            serving.metrics.record(reply, transport: .tcp)
            // A packet the responder drops (a response, shorter than a
            // header) gets no reply; the connection goes on.
            guard reply.length > 0 else { continue }
            if out == nil { out = context.channel.allocator.buffer(capacity: 2 + reply.length) }
            out!.writeDNSMessage(UnsafeRawBufferPointer(rebasing: Self.scratch[0..<reply.length]))
        }
        if incoming.readableBytes > 0 {
            incoming.discardReadBytes()
            pending = incoming
            if completed || messageStart == nil { messageStart = lastActivity }
        } else {
            messageStart = nil
        }
        if let out { send(out, context: context) }
        sendTransfer(context: context)
    }

    /// The reply to one query, in `scratch`; nil when there is none yet
    /// (a transfer started, a query relayed to the live roots).
    private func answer(_ packet: UnsafeRawBufferPointer, zone: ZoneIndex, facts: TransportFacts, context: ChannelHandlerContext) -> Reply? {
        let responder = serving.responder
        switch responder.classify(packet, zone: zone, facts: facts, into: Self.scratch) {
        case .reply(let reply):
            return reply
        case .notify:
            return serving.notifications.answer(packet, from: peer, responder: responder, into: Self.scratch)
        case .soaCheck(let query, let reply):
            return serving.secondaryRequests!.answerSOACheck(query, packet: packet, reply: reply, from: peer, allowed: transferAllowed,
                                                             into: Self.scratch)
        case .transfer(let query, let zoneTransfer):
            switch serving.secondaryRequests!.admit(query, packet: packet, from: peer, allowed: transferAllowed,
                                                     intercepting: facts.intercepting, into: Self.scratch) {
            case .refused(let reply):
                return reply
            case .granted(let kind, let held, let signer):
                let reply = zoneTransfer.reply(to: query.qtype, holding: held)
                let expire = query.edns?.expire == true ? serving.expiry.expireSeconds(now: Int64(time(nil))) : nil
                // What went on the wire: an IXFR answered with the whole zone is an AXFR's bytes.
                transfer = Transfer(reply: reply, query: query, packet: Array(packet[0..<query.questionEnd]),
                                    kind: reply.form == .full ? .axfr : kind, expire: expire, signer: signer)
                return nil
            }
        case .forward(let query):
            forward(query, packet: packet, context: context)
            return nil
        }
    }

    /// A transfer in progress: the zone as it was when the query came (a
    /// reload meanwhile does not change it), and the next message to send.
    struct Transfer {
        let reply: TransferReply
        let query: IncomingQuery
        /// The query's header and question, echoed in every message.
        let packet: [UInt8]
        let kind: SecondaryLog.Kind
        /// RFC 7314's EXPIRE for the first message, when the query asked.
        let expire: UInt32?
        /// Signs every message (RFC 8945 §5.3.1), with `--transfer-key`.
        var signer: TSIGSigner?
        var next = 0
        var bytes = 0
    }

    /// Sends the transfer's messages while the client keeps reading them;
    /// `channelWritabilityChanged` resumes it. Once the last is queued,
    /// the queries that came after the transfer are answered.
    private func sendTransfer(context: ChannelHandlerContext) {
        while !closing, var t = transfer, context.channel.isWritable {
            var length = t.packet.withUnsafeBytes { t.reply.write(t.next, replyingTo: t.query, packet: $0, payload: serving.responder.maximumUDPPayload, into: Self.scratch) }
            if t.next == 0, let seconds = t.expire {
                length = EDNSOption.append(EDNSOption.expire(seconds: seconds), toReplyOf: length, in: Self.scratch) ?? length
            }
            // Room for the TSIG is kept in every message (`ZoneTransfer`).
            if t.signer != nil { length = t.signer!.sign(Self.scratch, length: length) ?? length }
            var buffer = context.channel.allocator.buffer(capacity: 2 + length)
            buffer.writeDNSMessage(UnsafeRawBufferPointer(rebasing: Self.scratch[0..<length]))
            t.next += 1
            t.bytes += length
            transfer = t.next < t.reply.messageCount ? t : nil
            send(buffer, context: context)
            if transfer == nil {
                serving.metrics.record(Reply(length: t.bytes, kind: .answer, rcode: .noError, truncated: false), transport: .tcp)
                if let peer {
                    serving.secondaries?.transfer(peer, kind: t.kind, outcome: .ok, serial: t.reply.serial, bytes: t.bytes, now: Int64(time(nil)))
                }
                if (pending?.readableBytes ?? 0) > 0 {
                    channelRead(context: context, data: NIOAny(context.channel.allocator.buffer(capacity: 0)))
                }
            }
        }
    }

    private func send(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        writesInFlight += 1
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { [self] _ in
            writesInFlight -= 1
            lastActivity = .now()
            closeIfDone()
        }
    }

    /// Relayed replies may overtake earlier queries' (RFC 7766 §7 allows
    /// out-of-order replies; the ID tells them apart).
    private func forward(_ query: IncomingQuery, packet: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        serving.metrics.forwarded.increment()
        forwardsInFlight += 1
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        serving.expiry.forward(query, packet: packet, overTCP: true, responder: serving.responder) { bytes in
            handler.eventLoop.execute {
                let handler = handler.value
                handler.forwardsInFlight -= 1
                guard let context = handler.context, !handler.closing else { return }
                var buffer = context.channel.allocator.buffer(capacity: 2 + bytes.count)
                bytes.withUnsafeBytes { buffer.writeDNSMessage($0) }
                handler.send(buffer, context: context)
            }
        }
    }

    private func closeIfDone() {
        if inputClosed && writesInFlight == 0 && forwardsInFlight == 0 && transfer == nil { close() }
    }

    /// Stop reading while the client is not reading its replies: pipelined
    /// queries then wait in the client's socket, not in our memory.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            sendTransfer(context: context)
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // RFC 7766 §6.2.4: a client may send its queries and half-close;
        // the replies still go out, then the connection closes.
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            closeIfDone()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close()
    }

    func close() {
        guard !closing, let context else { return }
        closing = true
        context.close(promise: nil)
    }
}

extension ByteBuffer {
    /// Appends `message` as DNS over TCP frames it: after its length in
    /// two bytes (RFC 1035 §4.2.2).
    mutating func writeDNSMessage(_ message: UnsafeRawBufferPointer) {
        writeInteger(UInt16(message.count))
        writeBytes(message)
    }
}

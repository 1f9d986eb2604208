import DNSWire
import Foundation
import Testing
import TestSupport

/// RFC 7766 behaviour of the TCP listener.
@Suite("serve over TCP")
struct TCPTests {
    @Test("pipelined queries are all answered, in order, on one connection")
    func pipelining() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint)
        let names = ["com", "net", "org", "no-such-tld", ".", "de", "uk", "a.root-servers.net"]
        let queries = names.enumerated().map { makeQuery($0.element, .ns, id: UInt16(100 + $0.offset)) }
        // All in one write.
        tcp.write(queries.flatMap(TCPClient.framed))
        for (index, name) in names.enumerated() {
            let reply = try Message(parsing: try #require(tcp.readFrame(), "reply \(index) missing"))
            #expect(reply.header.id == UInt16(100 + index), "\(name)")
            #expect(!reply.header.isTruncated, "\(name)")
        }
        // TCP replies are not cut at 512: net's referral carries all its glue.
        tcp.write(TCPClient.framed(makeQuery("net", .a, id: 9)))
        let net = try Message(parsing: try #require(tcp.readFrame()))
        #expect(!net.header.isTruncated && net.additional.count == 26)
    }

    @Test("queries split across writes at every byte are reassembled")
    func partialWrites() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint)
        let stream = TCPClient.framed(makeQuery("com", .a, id: 1)) + TCPClient.framed(makeQuery("org", .a, id: 2))
        // One byte per write, with a pause so that each arrives as its own segment.
        for byte in stream {
            tcp.write([byte])
            usleep(2000)
        }
        for id in [UInt16(1), 2] {
            let reply = try Message(parsing: try #require(tcp.readFrame()))
            #expect(reply.header.id == id && reply.rcode == .noError && reply.authority.count > 0)
        }
        // The length prefix in one write, the message in another, a second query's prefix glued to it.
        let third = TCPClient.framed(makeQuery("de", .a, id: 3))
        let fourth = TCPClient.framed(makeQuery("uk", .a, id: 4))
        tcp.write(Array(third.prefix(2)))
        usleep(5000)
        tcp.write(Array(third.dropFirst(2)) + Array(fourth.prefix(1)))
        usleep(5000)
        tcp.write(Array(fourth.dropFirst(1)))
        for id in [UInt16(3), 4] {
            let reply = try Message(parsing: try #require(tcp.readFrame()))
            #expect(reply.header.id == id)
        }
    }

    @Test("a client that reads its replies slowly gets every byte of them")
    func slowReader() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint)
        // 6000 referrals of about 800 bytes (5 MB): more than the socket
        // buffers hold while the client dawdles, so the server's writes are
        // partial and it must stop reading until the client catches up.
        let count = 6000
        let queries = (0..<count).flatMap { TCPClient.framed(makeQuery("x\($0).net", .a, id: UInt16($0))) }
        let writer = Thread { tcp.write(queries) }
        writer.start()
        for index in 0..<count {
            let frame = try #require(tcp.readFrame(), "reply \(index) missing")
            #expect(frame[0] == UInt8(index >> 8) && frame[1] == UInt8(index & 0xFF))
            if index % 1000 == 0 { usleep(200_000) }
        }
    }

    @Test("idle connections are closed after --tcp-idle-timeout")
    func idleTimeout() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--tcp-idle-timeout", "1"])
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint, timeoutMilliseconds: 10_000)
        tcp.write(TCPClient.framed(makeQuery("com", .a, id: 1)))
        _ = try #require(tcp.readFrame())
        // Then nothing: the server closes (read sees end of stream, not our 10 s timeout).
        #expect(tcp.isClosedByPeer())
    }

    /// RFC 7766 §6.2.3: a client may take no longer than the idle timeout
    /// to send one whole message. Each byte is sent 250 ms after the last,
    /// so an idle timer restarted by every byte would never fire; the 60
    /// bytes take 15 s, far beyond the 1 s the message is allowed.
    @Test("a query trickled a byte at a time is cut off at the message deadline")
    func trickledQueryIsTimedOut() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--tcp-idle-timeout", "1"])
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint, timeoutMilliseconds: 250)
        // A whole message first: answered, and not held against the next one.
        tcp.write(TCPClient.framed(makeQuery("com", .a, id: 1)))
        _ = try #require(tcp.readFrame())
        #expect(tcp.trickleUntilClosed([0, 200] + [UInt8](repeating: 0x41, count: 58)), "still open after 15 s of trickling")
    }

    @Test("at the connection cap, the oldest idle connection is closed to admit a new one")
    func connectionCap() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--tcp-max-connections", "3"])
        defer { server.stop() }
        var clients: [TCPClient] = []
        for id in 1...3 {
            let tcp = try TCPClient(server.endpoint)
            tcp.write(TCPClient.framed(makeQuery("com", .a, id: UInt16(id))))
            _ = try #require(tcp.readFrame())
            clients.append(tcp)
        }
        // The second connection now has part of a query outstanding: not idle.
        clients[1].write([0, 40, 0x12])
        // The first is used again, so the oldest idle connection is the third.
        clients[0].write(TCPClient.framed(makeQuery("org", .a, id: 10)))
        _ = try #require(clients[0].readFrame())

        let newcomer = try TCPClient(server.endpoint)
        newcomer.write(TCPClient.framed(makeQuery("de", .a, id: 4)))
        let reply = try Message(parsing: try #require(newcomer.readFrame()))
        #expect(reply.header.id == 4)
        #expect(clients[2].isClosedByPeer(), "the oldest idle connection is closed")
        clients[0].write(TCPClient.framed(makeQuery("uk", .a, id: 11)))
        #expect(clients[0].readFrame() != nil, "a more recently used connection stays open")
        clients[1].write([0x34] + Array(repeating: 0, count: 38))
        #expect(clients[1].readFrame() != nil, "a connection in the middle of a query stays open")
    }

    @Test("stalled and flooding TCP clients do not delay UDP answers")
    func tcpNeverDelaysUDP() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--tcp-max-connections", "40"])
        defer { server.stop() }
        var stalled: [TCPClient] = []
        for _ in 0..<30 {
            let tcp = try TCPClient(server.endpoint)
            tcp.write([0, 200, 1, 2, 3])  // a query that never completes
            stalled.append(tcp)
        }
        // One that pipelines thousands of queries and never reads a reply.
        let flooder = try TCPClient(server.endpoint)
        var tiny: Int32 = 4096
        setsockopt(flooder.fd, SOL_SOCKET, SO_RCVBUF, &tiny, socklen_t(MemoryLayout<Int32>.size))
        var nonblocking = fcntl(flooder.fd, F_GETFL)
        nonblocking |= O_NONBLOCK
        _ = fcntl(flooder.fd, F_SETFL, nonblocking)
        let flood = (0..<5000).flatMap { TCPClient.framed(makeQuery("y\($0).com", .a, id: UInt16($0))) }
        flood.withUnsafeBytes { _ = send(flooder.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }

        let udp = try UDPClient(server.endpoint)
        for id in 1...200 {
            let reply = try #require(udp.exchange(makeQuery("com", .ns, id: UInt16(id))), "UDP query \(id) unanswered")
            #expect(reply.count > 12)
        }
        _ = stalled
    }
}

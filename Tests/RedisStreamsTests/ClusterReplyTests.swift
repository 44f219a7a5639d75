import Testing

@testable import RedisStreams

/// Redirect replies and CLUSTER SLOTS parsed as Redis 7.0 writes them.
@Suite struct ClusterReplyTests {
    let asked = RedisNode(host: "10.0.0.9", port: 7000)

    @Test func redirectsAreParsed() {
        #expect(
            ClusterRedirect(message: "MOVED 3999 127.0.0.1:6381", from: asked)
                == .moved(slot: 3999, to: RedisNode(host: "127.0.0.1", port: 6381)))
        #expect(
            ClusterRedirect(message: "ASK 12182 127.0.0.1:6380", from: asked)
                == .ask(slot: 12182, to: RedisNode(host: "127.0.0.1", port: 6380)))
        // An unknown endpoint is written as an empty host: the node asked.
        #expect(ClusterRedirect(message: "MOVED 1 :6390", from: asked) == .moved(slot: 1, to: RedisNode(host: "10.0.0.9", port: 6390)))
        // IPv6 without brackets: split at the last colon.
        #expect(ClusterRedirect(message: "MOVED 2 ::1:6391", from: asked) == .moved(slot: 2, to: RedisNode(host: "::1", port: 6391)))
        #expect(ClusterRedirect(message: "TRYAGAIN Multiple keys request during rehashing of slot", from: asked) == .tryAgain)
        #expect(ClusterRedirect(message: "CLUSTERDOWN The cluster is down", from: asked) == .clusterDown)
        // Out of range or malformed: not a redirect, reported as the error it is.
        #expect(ClusterRedirect(message: "MOVED 16384 127.0.0.1:6381", from: asked) == nil)
        #expect(ClusterRedirect(message: "MOVED 1 127.0.0.1:0", from: asked) == nil)
        #expect(ClusterRedirect(message: "MOVED x 127.0.0.1:6381", from: asked) == nil)
        #expect(ClusterRedirect(message: "ERR unknown command", from: asked) == nil)
        #expect(
            ClusterRedirect(replies: [.simpleString("OK"), .error("MOVED 5 127.0.0.1:1"), .error("EXECABORT")], from: asked)
                == .moved(slot: 5, to: RedisNode(host: "127.0.0.1", port: 1)))
    }

    @Test func clusterSlotsBuildTheMap() throws {
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7000), .bulkString([])])]),
            .array([.integer(5461), .integer(10922), .array([.bulkString([]), .integer(7001)])]),
            .array([.integer(10923), .integer(16383), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7002)])]),
        ])
        let map = try SlotMap(clusterSlots: reply, asked: asked)
        #expect(map.masters.count == 3)
        #expect(map.owner(of: 0) == RedisNode(host: "127.0.0.1", port: 7000))
        #expect(map.owner(of: 5461) == RedisNode(host: "10.0.0.9", port: 7001))
        #expect(map.owner(of: 16383)?.port == 7002)
        #expect([5460, 5461, 10922, 10923].map { map.owner(of: $0)?.port } == [7000, 7001, 7001, 7002])
        #expect(throws: RedisError.self) { try SlotMap(clusterSlots: .array([.array([.integer(0), .integer(99999)])]), asked: asked) }
        #expect(throws: RedisError.self) { try SlotMap(clusterSlots: .integer(1), asked: asked) }
    }
}

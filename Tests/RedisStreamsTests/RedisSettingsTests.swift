import NIOCore
import PostwireConfig
import RedisSetup
import Testing

@testable import RedisStreams

/// The topology settings as an operator writes them: every bad value is refused with a message
/// that names the setting, before any connection is tried.
@Suite struct RedisSettingsTests {
    @Test func nodesParseAsHostAndPort() {
        #expect(RedisNode(parsing: "10.0.0.1:7000", defaultPort: 1) == RedisNode(host: "10.0.0.1", port: 7000))
        #expect(RedisNode(parsing: " redis-a ", defaultPort: 26379) == RedisNode(host: "redis-a", port: 26379))
        #expect(RedisNode(parsing: "[::1]:7001", defaultPort: 1) == RedisNode(host: "::1", port: 7001))
        #expect(RedisNode(parsing: "[::1]", defaultPort: 6379) == RedisNode(host: "::1", port: 6379))
        #expect(RedisNode(parsing: "::1", defaultPort: 6379) == RedisNode(host: "::1", port: 6379), "bare IPv6: the default port")
        for bad in ["", " ", ":7000", "host:", "host:0", "host:65536", "host:-1", "host:x", "[::1]x", "[::1]:", "a b:1", "[]:1"] {
            #expect(RedisNode(parsing: Substring(bad), defaultPort: 6379) == nil, "\(bad)")
        }
        #expect(RedisNode(host: "::1", port: 7).description == "[::1]:7")
    }

    @Test func topologiesAreBuiltFromTheSettings() throws {
        var settings = PostwireConfiguration().redis
        #expect(try settings.redisTopology() == .standalone)
        settings.topology = "cluster"
        settings.clusterNodes = ["127.0.0.1:7000", "127.0.0.1:7001"]
        settings.streamShards = 6
        #expect(
            try settings.redisTopology()
                == .cluster(seeds: [RedisNode(host: "127.0.0.1", port: 7000), RedisNode(host: "127.0.0.1", port: 7001)]))
        settings.topology = "sentinel"
        settings.sentinels = ["s1", "s2:26380"]
        #expect(
            try settings.redisTopology()
                == .sentinel(masterName: "postwire", sentinels: [RedisNode(host: "s1", port: 26379), RedisNode(host: "s2", port: 26380)]))
        #expect(settings.acknowledgement == nil)
        settings.replicasToAcknowledge = 1
        #expect(settings.acknowledgement == ReplicaAcknowledgement(replicas: 1, timeout: .milliseconds(1000)))
    }

    @Test func badTopologySettingsAreRefusedByName() {
        func refusal(_ change: (inout RedisSettings) -> Void) -> String {
            var settings = PostwireConfiguration().redis
            change(&settings)
            do {
                _ = try settings.clientConfiguration(password: nil)
                return "accepted"
            } catch {
                return error.message
            }
        }
        #expect(refusal { $0.topology = "Cluster" }.contains("redis.topology"))
        #expect(
            refusal {
                $0.topology = "cluster"; $0.streamShards = 6
            }.contains("redis.clusterNodes is empty"))
        #expect(
            refusal {
                $0.topology = "cluster"; $0.clusterNodes = ["a:1"]
            }.contains("redis.streamShards"))
        #expect(
            refusal {
                $0.topology = "cluster"; $0.clusterNodes = ["a:1"]; $0.streamShards = 3; $0.database = 2
            }.contains("redis.database"))
        #expect(
            refusal {
                $0.topology = "cluster"; $0.clusterNodes = ["a:99999"]; $0.streamShards = 3
            }.contains("'a:99999'"))
        #expect(refusal { $0.topology = "sentinel" }.contains("redis.sentinels is empty"))
        #expect(
            refusal {
                $0.topology = "sentinel"; $0.sentinels = ["s"]; $0.masterName = ""
            }.contains("redis.masterName"))
        #expect(refusal { $0.replicasToAcknowledge = -1 }.contains("redis.replicasToAcknowledge"))
        #expect(
            refusal {
                $0.replicasToAcknowledge = 1; $0.acknowledgeTimeoutMilliseconds = 0
            }.contains("acknowledgeTimeoutMilliseconds"))
        #expect(refusal { _ in } == "accepted")
    }
}

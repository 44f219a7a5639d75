import Testing

@testable import RedisStreams

@Suite struct StreamLayoutTests {
    @Test func oneShardKeepsThePlainNames() {
        let layout = StreamLayout(base: "postwire:events", shards: 1, guardPrefix: "postwire:seen:")
        #expect(layout.streams == ["postwire:events"])
        #expect(layout.shard(provider: "mailgun", eventKey: "anything") == 0)
        #expect(layout.guardKey("tok", shard: 0) == "postwire:seen:tok")
    }

    @Test func shardsCarryHashTagsAndGuardsShareThem() {
        let layout = StreamLayout(base: "postwire:events", shards: 3, guardPrefix: "postwire:seen:")
        #expect(layout.streams == ["postwire:events:{0}", "postwire:events:{1}", "postwire:events:{2}"])
        #expect(layout.guardKey("tok", shard: 2) == "postwire:seen:{2}:tok")
        #expect(StreamLayout.hashTag(of: layout.stream(shard: 2)) == StreamLayout.hashTag(of: layout.guardKey("tok", shard: 2)))
    }

    @Test func aTaggedSingleStreamLendsItsTagToGuardKeys() {
        let layout = StreamLayout(base: "postwire:{events}", guardPrefix: "postwire:seen:")
        #expect(layout.guardKey("tok", shard: 0) == "postwire:seen:{events}:tok")
        #expect(StreamLayout.hashTag(of: "a{}b") == nil)
        #expect(StreamLayout.hashTag(of: "a{b") == nil)
        #expect(StreamLayout.hashTag(of: "x{ab}c{d}") == "ab")
    }

    /// FNV-1a of "provider:eventKey"; the expected shards were computed separately (Python), so a
    /// change of hash, which would send an event's copies to different shards across versions, fails here.
    @Test func shardIsAStableHashOfProviderAndEventKey() {
        let layout = StreamLayout(base: "s", shards: 4, guardPrefix: "g:")
        #expect((0..<8).map { layout.shard(provider: "mailgun", eventKey: "evt-\($0)") } == [2, 1, 0, 3, 2, 1, 0, 3])
        #expect(StreamLayout(base: "s", shards: 3, guardPrefix: "g:").shard(provider: "sendgrid", eventKey: "abc") == 1)
        #expect(StreamLayout(base: "s", shards: 0, guardPrefix: "g:").shards == 1)
    }
}

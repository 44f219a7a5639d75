import Testing

@testable import RedisStreams

/// The reference vectors of the Redis Cluster specification (cluster-spec, "Keys hash tags" and
/// the CRC16 appendix) and slots `redis-cli CLUSTER KEYSLOT` printed on Redis 7.0.
@Suite struct HashSlotTests {
    @Test func crc16IsXmodem() {
        #expect(HashSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(HashSlot.crc16([][...]) == 0)
    }

    @Test func slotsMatchRedis() {
        #expect(HashSlot.of("123456789") == 12739)
        #expect(HashSlot.of("foo") == 12182)
        #expect(HashSlot.of("bar") == 5061)
        #expect(HashSlot.of("") == 0)
        #expect(HashSlot.of("postwire:events:{0}") == HashSlot.of("0"))
    }

    @Test func hashTagsFollowTheSpecification() {
        // Both hash "user1000".
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("{user1000}.followers"))
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("user1000"))
        // Only the first tag counts.
        #expect(HashSlot.of("foo{bar}{zap}") == HashSlot.of("bar"))
        // An empty tag means the whole key is hashed.
        #expect(HashSlot.of("foo{}{bar}") == Int(HashSlot.crc16(Array("foo{}{bar}".utf8)[...]) % 16384))
        // The tag runs to the first `}` after the first `{`.
        #expect(HashSlot.of("foo{{bar}}zap") == HashSlot.of("{bar"))
        // No closing brace: the whole key.
        #expect(HashSlot.of("foo{bar") == Int(HashSlot.crc16(Array("foo{bar".utf8)[...]) % 16384))
    }

    @Test func bytesBeyondAsciiAreHashedAsBytes() {
        #expect(HashSlot.of("ключ") == 10303)
        #expect((0..<HashSlot.count).contains(HashSlot.of([0xff, 0x00, 0x7b, 0x7d])))
    }
}

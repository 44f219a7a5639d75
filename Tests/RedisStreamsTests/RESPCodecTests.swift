import NIOCore
import Testing

@testable import RedisStreams

@Suite struct RESPCodecTests {
    @Test func encodesBinarySafeBulkStrings() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        RedisCommand("XADD", ["s", "*", "f", RESPArgument([0, 13, 10, 255])]).encode(into: &buffer)
        #expect(
            Array(buffer.readableBytesView) == Array("*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nf\r\n$4\r\n".utf8) + [0, 13, 10, 255]
                + Array("\r\n".utf8))
    }

    func parse(_ chunks: [String]) throws -> [RESPValue] {
        let reader = HiredisReader()
        var values: [RESPValue] = []
        for chunk in chunks {
            try Array(chunk.utf8).withUnsafeBytes { try reader.feed($0) }
            while let value = try reader.next() { values.append(value) }
        }
        return values
    }

    @Test func readsEveryReplyKindAcrossChunkBoundaries() throws {
        let wire = "+OK\r\n-ERR bad\r\n:42\r\n$3\r\nab\r\r\n$-1\r\n*2\r\n*1\r\n$1\r\nx\r\n*-1\r\n"
        let expected: [RESPValue] = [
            .simpleString("OK"), .error("ERR bad"), .integer(42), .bulkString(Array("ab\r".utf8)), .null,
            .array([.array([.bulkString(Array("x".utf8))]), .null]),
        ]
        #expect(try parse([wire]) == expected)
        // One byte at a time gives the same replies: the reader keeps partial input.
        #expect(try parse(wire.map { String($0) }) == expected)
    }

    @Test func protocolGarbageIsAnError() {
        #expect(throws: HiredisReader.ProtocolError.self) { try parse(["?what\r\n"]) }
    }

    @Test func serverErrorPrefix() {
        #expect(RedisError(.server, "BUSYGROUP Consumer Group name already exists").serverErrorPrefix == "BUSYGROUP")
        #expect(RedisError(.timeout, "x").serverErrorPrefix == nil)
    }
}

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

@testable import RedisStreams

/// A fake Redis server on loopback that answers each command with whatever `answer` says, and
/// records the commands it got: the redirect handling is tested against scripted replies a real
/// cluster gives only in a race (ASK mid-migration, TRYAGAIN, CLUSTERDOWN).
final class ScriptedNode: Sendable {
    let port: Int
    private let channel: any Channel
    private let log = NIOLockedValueBox<[[String]]>([])

    var node: RedisNode { RedisNode(host: "127.0.0.1", port: port) }
    /// Every command received, as its arguments, in order (ASKING included).
    var received: [[String]] { log.withLockedValue { $0 } }
    /// The commands received, without the CLUSTER SLOTS lookups.
    var commands: [[String]] { received.filter { $0.first != "CLUSTER" } }

    init(_ answer: @escaping @Sendable (_ command: [String], _ seen: Int) -> RESPValue) async throws {
        let log = self.log
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(log: log, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reader = HiredisReader()
        let log: NIOLockedValueBox<[[String]]>
        let answer: @Sendable ([String], Int) -> RESPValue

        init(log: NIOLockedValueBox<[[String]]>, answer: @escaping @Sendable ([String], Int) -> RESPValue) {
            self.log = log
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            try? buffer.withUnsafeReadableBytes { try reader.feed($0) }
            var out = context.channel.allocator.buffer(capacity: 256)
            while let request = try? reader.next() {
                let command = (request.array ?? []).compactMap(\.string)
                let seen = log.withLockedValue { log in
                    log.append(command)
                    return log.count(where: { $0.first == command.first })
                }
                Self.encode(answer(command, seen), into: &out)
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }

        static func encode(_ value: RESPValue, into buffer: inout ByteBuffer) {
            switch value {
            case .simpleString(let text): buffer.writeString("+\(text)\r\n")
            case .error(let text): buffer.writeString("-\(text)\r\n")
            case .integer(let number): buffer.writeString(":\(number)\r\n")
            case .bulkString(let bytes):
                buffer.writeString("$\(bytes.count)\r\n")
                buffer.writeBytes(bytes)
                buffer.writeString("\r\n")
            case .null: buffer.writeString("$-1\r\n")
            case .array(let values):
                buffer.writeString("*\(values.count)\r\n")
                for value in values { encode(value, into: &buffer) }
            }
        }
    }
}

extension RESPValue {
    /// A CLUSTER SLOTS reply that gives every slot to `port` on loopback.
    static func allSlots(on port: Int) -> RESPValue {
        .array([.array([.integer(0), .integer(16383), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(Int64(port))])])])
    }

    static func text(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }
}

// Measures the XADD round-trip shapes behind RedisStreams' design choice: SwiftNIO with hiredis's
// reader as codec (what RedisStreams is) against blocking hiredis calls on a thread pool (the
// alternative). Prints events/s per shape; the machine is noisy, so compare within one run.
//
//   swift run -c release XAddRoundTrip [redis-port]
import CHiredis
import Foundation
import NIOCore
import NIOPosix
import RedisStreams

let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 6379
let stream = "postwire:bench:\(UUID().uuidString.prefix(8))"
let fields: [(String, [UInt8])] = [("v", Array("1".utf8)), ("e", Array(repeating: UInt8(ascii: "x"), count: 200))]

func rate(_ events: Int, _ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(events) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

// MARK: NIO transport, hiredis reader (RedisStreams)

let nio = RedisClient(configuration: RedisConfiguration(port: port, connections: 1))
let nioSequential = try await rate(5000) {
    for _ in 0..<5000 { _ = try await nio.xadd(stream, fields) }
}
let nioBatch = try await rate(20_000) {
    for _ in 0..<200 { _ = try await nio.xaddAtomically(stream, Array(repeating: fields, count: 100)) }
}
/// `callers` concurrent callers, each sending 40,000 / callers events in MULTI/EXEC batches of 100.
func nioConcurrent(_ callers: Int) async throws -> Double {
    try await rate(40_000) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    for _ in 0..<(400 / callers) { _ = try await nio.xaddAtomically(stream, Array(repeating: fields, count: 100)) }
                }
            }
            try await group.waitForAll()
        }
    }
}
let nio4 = try await nioConcurrent(4)
let nio16 = try await nioConcurrent(16)
await nio.close()

// MARK: blocking hiredis on a thread pool

/// One blocking hiredis connection; `lock` makes callers take turns (unchecked Sendable for that).
final class BlockingConnection: @unchecked Sendable {
    let context: UnsafeMutablePointer<redisContext>
    let lock = NSLock()
    init(port: Int) {
        context = redisConnect("127.0.0.1", Int32(port))
        precondition(context.pointee.err == 0, "cannot connect")
    }
    deinit { redisFree(context) }

    /// Appends the commands, then reads every reply: one pipelined round trip.
    func run(_ commands: [[[UInt8]]]) {
        for argv in commands {
            // hiredis copies the arguments into its output buffer before returning.
            var copies: [UnsafeMutablePointer<CChar>?] = argv.map { bytes in
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
                bytes.withUnsafeBytes { UnsafeMutableRawPointer(copy).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                return copy
            }
            var pointers = copies.map { UnsafePointer($0) }
            var lengths = argv.map { $0.count }
            redisAppendCommandArgv(context, Int32(argv.count), &pointers, &lengths)
            copies.forEach { $0?.deallocate() }
            copies.removeAll()
        }
        for _ in commands {
            var reply: UnsafeMutableRawPointer?
            precondition(redisGetReply(context, &reply) == REDIS_OK, "redis error")
            freeReplyObject(reply)
        }
    }
}

func xaddArgv() -> [[UInt8]] {
    [Array("XADD".utf8), Array(stream.utf8), Array("*".utf8)] + fields.flatMap { [Array($0.0.utf8), $0.1] }
}
let batch: [[[UInt8]]] = [[Array("MULTI".utf8)]] + Array(repeating: xaddArgv(), count: 100) + [[Array("EXEC".utf8)]]

let pool = NIOThreadPool(numberOfThreads: 4)
pool.start()
let connections = (0..<4).map { _ in BlockingConnection(port: port) }
let blockingSequential = try await rate(5000) {
    for _ in 0..<5000 { try await pool.runIfActive { connections[0].run([xaddArgv()]) } }
}
let blockingBatch = try await rate(20_000) {
    for _ in 0..<200 { try await pool.runIfActive { connections[0].run(batch) } }
}
/// The same callers; a caller takes a free connection from a small pool while its thread blocks.
func blockingConcurrent(_ callers: Int) async throws -> Double {
    try await rate(40_000) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    for _ in 0..<(400 / callers) {
                        try await pool.runIfActive { connections[caller % 4].lock.withLock { connections[caller % 4].run(batch) } }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
let blocking4 = try await blockingConcurrent(4)
let blocking16 = try await blockingConcurrent(16)
try await pool.shutdownGracefully()

let cleanup = RedisClient(configuration: RedisConfiguration(port: port, connections: 1))
try await cleanup.del([stream])
await cleanup.close()

func format(_ value: Double) -> String { String(format: "%9.0f", value) }
print("XADD events/s, 200-byte entries, Redis on 127.0.0.1:\(port)")
print("shape                                   NIO+hiredis reader   blocking hiredis on NIOThreadPool")
print("sequential, one XADD per round trip     \(format(nioSequential))            \(format(blockingSequential))")
print("MULTI/EXEC of 100, awaited one by one   \(format(nioBatch))            \(format(blockingBatch))")
print(
    "4 concurrent MULTI/EXEC of 100          \(format(nio4))            \(format(blocking4))  (1 shared connection vs 4 connections + 4 threads)"
)
print("16 concurrent MULTI/EXEC of 100         \(format(nio16))            \(format(blocking16))")

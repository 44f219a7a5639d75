import NIOCore

/// A request travelling down the pipeline: encoded commands and the promise that receives their
/// replies, in order.
struct RedisRequest {
    var buffer: ByteBuffer
    var replyCount: Int
    var promise: EventLoopPromise<[RESPValue]>
}

/// Pipelines requests on one connection. Redis answers in order, so the handler keeps the
/// promises in a queue in write order and hands each complete reply to the oldest one.
///
/// Invariant: `waiting` is touched only on the channel's event loop (every ChannelHandler
/// method runs there), so writes from concurrent callers are queued in the order they hit the
/// wire. When the channel goes away every waiting promise fails: its commands may or may not have
/// run, and the caller must treat them as unknown.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var replyCount: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    private let reader = HiredisReader()
    /// Receives replies nothing asked for: a subscription's messages. Without it they are dropped.
    private let onPush: (@Sendable (RESPValue) -> Void)?

    init(onPush: (@Sendable (RESPValue) -> Void)? = nil) {
        self.onPush = onPush
    }

    private var waiting = CircularBuffer<Waiting>()
    /// Replies collected for the head of `waiting`; kept out of the queue element so appending
    /// does not copy the array (docs/DEVELOPING.md, stack notes).
    private var collected: [RESPValue] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(Waiting(replyCount: request.replyCount, promise: request.promise))
        context.write(wrapOutboundOut(request.buffer), promise: promise)
    }

    /// Flushes once per event-loop turn rather than once per request: concurrent callers' writes
    /// arrive as separate tasks on the loop, and whatever is queued by the time the scheduled
    /// flush runs leaves in one `writev`, a true pipeline.
    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loop = context.eventLoop.assumeIsolated()
        loop.execute {
            self.flushScheduled = false
            context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do throws(HiredisReader.ProtocolError) {
            try buffer.withUnsafeReadableBytes { bytes throws(HiredisReader.ProtocolError) in try reader.feed(bytes) }
            while let reply = try reader.next() {
                deliver(reply)
            }
        } catch {
            failAll(RedisError(.protocolError, error.message))
            context.close(promise: nil)
        }
    }

    private func deliver(_ reply: RESPValue) {
        guard let head = waiting.first else {
            onPush?(reply)
            return
        }
        collected.append(reply)
        if collected.count == head.replyCount {
            waiting.removeFirst()
            let replies = collected
            collected = []
            head.promise.succeed(replies)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, "connection closed with \(waiting.count) request(s) in flight"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError(.connectionClosed, "connection error: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        collected = []
        while let next = waiting.popFirst() {
            next.promise.fail(error)
        }
    }
}

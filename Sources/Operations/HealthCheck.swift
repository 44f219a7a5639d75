import Foundation
import NIOCore
import NIOPosix

/// `--check-health`: asks the running process's own operations port for `/readyz`, so a container
/// HEALTHCHECK reports what the process itself knows (Redis reachable; for a worker, PostgreSQL
/// too) on the port its configuration names, rather than a port baked into the image.
public enum HealthCheck {
    /// nil when `/readyz` answered 200, else why not. A wildcard `host` is asked on loopback.
    public static func readiness(host: String, port: Int, timeout: TimeAmount = .seconds(2)) async -> String? {
        guard port > 0 else {
            return
                "the operations port is \(port < 0 ? "off" : "chosen by the kernel") (metricsPort \(port)): set a fixed port to check health"
        }
        let target = ["", "0.0.0.0", "*"].contains(host) ? "127.0.0.1" : (host == "::" ? "::1" : host)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: target, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let request = "GET /readyz HTTP/1.1\r\nHost: \(target):\(port)\r\nConnection: close\r\n\r\n"
            let reply: String = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    try await channel.executeThenClose { inbound, outbound in
                        try await outbound.write(ByteBuffer(string: request))
                        var text = ""
                        // The status line and the reason's JSON fit in a few KiB; stop there.
                        for try await var chunk in inbound {
                            text += chunk.readString(length: chunk.readableBytes) ?? ""
                            if text.utf8.count > 16_384 { break }
                        }
                        return text
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let text = first else { throw ChannelError.connectTimeout(timeout) }
                return text
            }
            guard let statusLine = reply.split(separator: "\r\n", maxSplits: 1).first else { return "no answer from \(target):\(port)" }
            if statusLine.hasPrefix("HTTP/1.1 200") || statusLine.hasPrefix("HTTP/1.0 200") { return nil }
            let body = reply.range(of: "\r\n\r\n").map { String(reply[$0.upperBound...]) } ?? ""
            return "\(statusLine): \(body.prefix(500))"
        } catch {
            return "cannot ask \(target):\(port)/readyz: \(error)"
        }
    }

    /// Prints the verdict and returns the exit status: 0 ready, 1 not.
    public static func report(host: String, port: Int) async -> Int32 {
        guard let reason = await readiness(host: host, port: port) else {
            print("healthy: \(port)/readyz answered 200")
            return 0
        }
        print("unhealthy: \(reason)")
        return 1
    }
}

import Foundation
import PostwireConfig
import ProviderSamples
import Providers
import RedisStreams
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// docs/DESIGN.md guarantee 6 for the ingress, against the real `postwire-ingress` binary: SIGTERM stops
/// new connections, and a request already in flight is still read, appended and answered.
@Suite(.serialized) struct IngressShutdownTests {
    @Test func sigtermFinishesTheRequestInFlightAndRefusesNewOnes() async throws {
        let port = TestEnvironment.freePort()
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.ingress.port = port
        configuration.ingress.metricsPort = 0
        configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
        let environment = TestEnvironment.childEnvironment(configuration, ["POSTWIRE_SECRET_MAILGUN_DEFAULT": PipelineTests.mailgunKey])
        let log = "/tmp/" + TestEnvironment.unique("ingress-shutdown") + ".log"
        let ingress = try ChildProcess.spawn(
            TestEnvironment.binDirectory.appendingPathComponent("postwire-ingress").path, [], environment: environment, logPath: log)
        defer {
            ingress.signal(SIGKILL)
            try? FileManager.default.removeItem(atPath: log)
        }
        try await TestEnvironment.eventually("the ingress answers") {
            (try? await HTTP.request("http://127.0.0.1:\(port)/healthz", method: "GET").status) == 200
        }

        let sample = SampleEvent(espEvent: "delivered", id: TestEnvironment.unique("drain"), recipient: "a@example.com", occurredAt: Date())
        let webhook = SampleWebhooks.mailgun(sample, signingKey: PipelineTests.mailgunKey, signedAt: Date())
        var head = "POST /webhooks/mailgun HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(webhook.body.count)\r\n"
        for (name, value) in webhook.headers { head += "\(name): \(value)\r\n" }
        let half = webhook.body.count / 2
        let connection = try RawConnection(port: port)
        try connection.send(Array((head + "\r\n").utf8) + webhook.body[..<half])
        try await Task.sleep(for: .milliseconds(300))

        ingress.signal(SIGTERM)
        do {
            try await TestEnvironment.eventually("the ingress drains: new connections are refused") {
                (try? RawConnection(port: port)) == nil
            }
        } catch {
            // Once seen in a full run and not since: the ingress's own account, for next time.
            Issue.record("the ingress's log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "none")")
            throw error
        }
        #expect(ingress.poll() == nil, "the ingress must wait for the request in flight")

        try connection.send(Array(webhook.body[half...]))
        let response = try connection.receiveAll()
        #expect(response.hasPrefix("HTTP/1.1 200"), "answer to the request in flight: \(response.prefix(200))")
        let ended = try await ingress.wait(timeout: .seconds(30))
        #expect(ended.exited && ended.code == 0)

        let redis = TestEnvironment.redis()
        let entries = try await redis.xrange(configuration.redis.stream, count: 10)
        #expect(entries.count == 1)
        #expect(entries.first?.string("k").map { $0.contains(sample.id) } == true)
        print(
            "ingress drain: SIGTERM during a half-sent request; new connection refused, the request got \(response.prefix(15)), 1 entry appended, exit \(ended.code)"
        )
        await redis.close()
    }
}

/// A blocking TCP connection to 127.0.0.1, for sending a request in pieces.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPIPE) }
            offset += sent
        }
    }

    /// Reads until the peer closes or the response's body (by Content-Length) is complete.
    func receiveAll() throws -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            data += buffer[..<count]
            let text = String(decoding: data, as: UTF8.self)
            if let split = text.range(of: "\r\n\r\n"),
                let length = text[..<split.lowerBound].split(separator: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("content-length:")
                })
                .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }),
                data.count - text[..<split.upperBound].utf8.count >= length
            {
                break
            }
        }
        return String(decoding: data, as: UTF8.self)
    }
}

import Foundation
import PostwireConfig
import ProviderSamples
import Providers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Slow and idle clients cannot hold the ingress: idle connections and unfinished request heads
/// are closed, a body must arrive in time, a body that cannot be read is 400 (not 413), and with
/// its open-file limit lowered the ingress refuses to run out of descriptors and keeps serving.
@Suite(.serialized) struct ConnectionLimitTests {
    static func withIngress(_ extra: [String: String] = [:], prlimit: Int? = nil, _ body: (Int) async throws -> Void) async throws {
        try await withIngress(extra, prlimit: prlimit) { port, _ in try await body(port) }
    }

    /// `body` gets the port and the path of the ingress's log.
    static func withIngress(_ extra: [String: String] = [:], prlimit: Int? = nil, _ body: (Int, String) async throws -> Void) async throws {
        let port = TestEnvironment.freePort()
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.ingress.port = port
        configuration.ingress.idleTimeoutSeconds = 1
        configuration.ingress.bodyTimeoutSeconds = 2
        configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
        let environment = TestEnvironment.childEnvironment(
            configuration,
            ["POSTWIRE_SECRET_MAILGUN_DEFAULT": PipelineTests.mailgunKey, "POSTWIRE_LOG_LEVEL": "notice"].merging(extra) { _, given in given
            })
        let binary = TestEnvironment.binDirectory.appendingPathComponent("postwire-ingress").path
        let log = "/tmp/" + TestEnvironment.unique("ingress-conn") + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let ingress = try ChildProcess.spawn(
            prlimit == nil ? binary : "/usr/bin/prlimit", prlimit.map { ["--nofile=\($0)", binary] } ?? [], environment: environment,
            logPath: log)
        defer { ingress.signal(SIGKILL) }
        do {
            try await TestEnvironment.eventually("the ingress answers") {
                (try? await HTTP.request("http://127.0.0.1:\(port)/healthz", method: "GET").status) == 200
            }
        } catch {
            Issue.record("ingress \(String(describing: ingress.poll())); log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            throw error
        }
        try await body(port, log)
        #expect(ingress.poll() == nil, "the ingress is still running; log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Reads until the peer closes; returns what it sent, or nil if it did not close within `limit`.
    static func untilClosed(_ connection: RawConnection, within limit: Duration) -> String? {
        let start = ContinuousClock.now
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while ContinuousClock.now - start < limit {
            let count = buffer.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return String(decoding: data, as: UTF8.self) }
            if count > 0 {
                data += buffer[..<count]
            } else if errno != EAGAIN && errno != EWOULDBLOCK {
                return String(decoding: data, as: UTF8.self)
            }
        }
        return nil
    }

    static func signedHead(_ port: Int, contentLength: Int? = nil, extra: String = "") -> (head: String, body: [UInt8]) {
        let sample = SampleEvent(espEvent: "delivered", id: TestEnvironment.unique("slow"), recipient: "a@example.com", occurredAt: Date())
        let webhook = SampleWebhooks.mailgun(sample, signingKey: PipelineTests.mailgunKey, signedAt: Date())
        var head = "POST /webhooks/mailgun HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\n"
        if let contentLength { head += "Content-Length: \(contentLength)\r\n" }
        return (head + extra + "\r\n", webhook.body)
    }

    @Test func idleConnectionsAndUnfinishedHeadsAreClosed() async throws {
        try await Self.withIngress { port in
            let idle = try RawConnection(port: port)
            #expect(Self.untilClosed(idle, within: .seconds(5)) != nil, "an idle connection is closed")
            let slow = try RawConnection(port: port)
            let start = ContinuousClock.now
            var closed = false
            for byte in Array("POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
                + Array(repeating: UInt8(ascii: "a"), count: 40)
            {
                do { try slow.send([byte]) } catch { closed = true; break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(closed || Self.untilClosed(slow, within: .seconds(3)) != nil, "a head sent a byte at a time is cut off")
            #expect(ContinuousClock.now - start < .seconds(12))
        }
    }

    @Test func aBodyMustArriveInTime() async throws {
        try await Self.withIngress { port in
            // Content-Length promised, the body trickled: 408 once the body time is up.
            let (head, body) = Self.signedHead(port, contentLength: 100_000)
            let trickle = try RawConnection(port: port)
            try trickle.send(Array(head.utf8) + Array(body.prefix(10)))
            var answer: String?
            for _ in 0..<40 where answer == nil {
                try? trickle.send([UInt8(ascii: " ")])
                try await Task.sleep(for: .milliseconds(150))
                var peek = [UInt8](repeating: 0, count: 512)
                let count = peek.withUnsafeMutableBytes { recv(trickle.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count > 0 { answer = String(decoding: peek[..<count], as: UTF8.self) }
            }
            #expect(answer?.hasPrefix("HTTP/1.1 408") == true, "trickled body: \(answer ?? "no answer")")

            // Expect: 100-continue, and no body ever.
            let (expectHead, _) = Self.signedHead(port, contentLength: 500, extra: "Expect: 100-continue\r\n")
            let waiting = try RawConnection(port: port)
            try waiting.send(Array(expectHead.utf8))
            let reply = Self.untilClosed(waiting, within: .seconds(8))
            #expect(reply != nil, "100-continue without a body: the connection must end")
            #expect(reply?.contains(" 408 ") == true || reply?.isEmpty == true, "100-continue without a body: \(reply?.prefix(100) ?? "")")
        }
    }

    @Test func unreadableBodiesAre400NotTooLarge() async throws {
        try await Self.withIngress { port in
            let (head, _) = Self.signedHead(port, extra: "Transfer-Encoding: chunked\r\n")
            let badChunk = try RawConnection(port: port)
            try badChunk.send(Array((head + "zz\r\nhello\r\n0\r\n\r\n").utf8))
            let reply = Self.untilClosed(badChunk, within: .seconds(5))
            #expect(reply != nil, "a bad chunk: the connection must end")
            #expect(reply?.contains(" 413 ") == false, "a bad chunk size is not 'too large': \(reply?.prefix(120) ?? "")")
            #expect(reply?.isEmpty == true || reply?.contains(" 400 ") == true, "\(reply?.prefix(120) ?? "")")
        }
    }

    /// With 128 descriptors, 300 idle connections cannot exhaust them: the ingress stops accepting
    /// at its limit, closes the idle ones, and answers a genuine request.
    @Test func aLoweredOpenFileLimitIsNeverExhausted() async throws {
        try await Self.withIngress(prlimit: 128) { port, log in
            let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(said.contains("lowered to fit the open-file limit") && said.contains("64"), "\(said)")
            var idle: [RawConnection] = []
            for _ in 0..<300 { if let connection = try? RawConnection(port: port) { idle.append(connection) } }
            let sample = SampleEvent(
                espEvent: "delivered", id: TestEnvironment.unique("fd"), recipient: "a@example.com", occurredAt: Date())
            let webhook = SampleWebhooks.mailgun(sample, signingKey: PipelineTests.mailgunKey, signedAt: Date())
            let start = ContinuousClock.now
            let reply = try await HTTP.request("http://127.0.0.1:\(port)/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
            #expect(reply.status == 200, "\(reply.status) \(reply.body)")
            print(
                "open-file limit 128, \(idle.count) idle connections opened: a genuine request answered \(reply.status) after \(ContinuousClock.now - start)"
            )
            idle.removeAll()
        }
    }
}

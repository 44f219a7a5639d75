import Hummingbird
import Logging
import NIOCore

/// The operations port of a process (docs/METRICS.md): `/metrics` in Prometheus text format,
/// `/healthz` (200 while the process runs) and `/readyz` (200 when its dependencies answer, else
/// 503 with the reason). It is a port of its own so the public webhook port exposes none of this.
public enum OperationsServer {
    /// `refresh` updates gauges that are read at scrape time; `readiness` returns nil when ready,
    /// else why not.
    public static func build(
        host: String,
        port: Int,
        metrics: MetricsRegistry,
        serverName: String,
        logger: Logger,
        refresh: @escaping @Sendable () async -> Void = {},
        readiness: @escaping @Sendable () async -> String?,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ in
            await refresh()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
        router.get("/healthz") { _, _ in json(.ok, #"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            guard let reason = await readiness() else { return json(.ok, #"{"status":"ready"}"#) }
            return json(.serviceUnavailable, #"{"status":"not ready","reason":"# + escaped(reason) + "}")
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: serverName),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A JSON string literal.
    private static func escaped(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

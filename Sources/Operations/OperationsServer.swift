import Foundation
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
            let body = (try? JSONSerialization.data(withJSONObject: ["status": "not ready", "reason": reason], options: [.sortedKeys]))
            return json(.serviceUnavailable, String(decoding: body ?? Data(), as: UTF8.self))
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

}

import AsyncHTTPClient
import EventStore
import Logging
import ServiceLifecycle
import Synchronization

/// The dispatcher: one ``EndpointLane`` per enabled endpoint, the set read again from PostgreSQL
/// every `endpointRefreshMilliseconds` (endpoints added, changed, disabled or removed by the CLI
/// or another dispatcher). Dispatchers need nothing but PostgreSQL and run side by side: they
/// claim different deliveries (docs/DELIVERY.md).
public final class Dispatcher: Service, Sendable {
    let store: EventStore
    let http: HTTPClient
    let settings: DispatchSettings
    let metrics: DispatcherMetrics
    let configured: [EndpointDraft]
    let logger: Logger
    private let stopping = Mutex(false)

    init(
        store: EventStore, http: HTTPClient, settings: DispatchSettings, metrics: DispatcherMetrics, configured: [EndpointDraft],
        logger: Logger
    ) {
        self.store = store
        self.http = http
        self.settings = settings
        self.metrics = metrics
        self.configured = configured
        self.logger = logger
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await syncConfiguredEndpoints()
            await dispatch()
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
        }
        try? await http.shutdown()
    }

    /// The configuration's endpoints, retried until PostgreSQL answers; a definition PostgreSQL
    /// refuses is logged and the rest still dispatched.
    private func syncConfiguredEndpoints() async {
        while !isStopping, !Task.isCancelled {
            do {
                try await store.syncConfiguredEndpoints(configured)
                return
            } catch  where error.code == .unavailable {
                logger.warning("PostgreSQL is unavailable; configured endpoints not written yet", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            } catch {
                logger.error("configured endpoints refused", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private func dispatch() async {
        await withDiscardingTaskGroup { group in
            var lanes: [Int64: EndpointLane] = [:]
            while !isStopping, !Task.isCancelled {
                do {
                    let enabled = try await store.endpoints().filter(\.enabled)
                    for endpoint in enabled {
                        if let lane = lanes[endpoint.id], !lane.isStopped {
                            lane.update(endpoint)
                            continue
                        }
                        let lane = EndpointLane(
                            endpoint: endpoint, store: store, http: http, settings: settings, metrics: metrics, logger: logger)
                        lanes[endpoint.id] = lane
                        group.addTask { await lane.run() }
                    }
                    let current = Set(enabled.map(\.id))
                    for (id, lane) in lanes where !current.contains(id) {
                        lane.stop()
                        lanes[id] = nil
                    }
                } catch {
                    logger.warning("cannot read the endpoints", metadata: ["error": "\(error)"])
                }
                // Waits in short steps so that shutdown is noticed quickly.
                let deadline = ContinuousClock.now + settings.endpointRefresh
                while !isStopping, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(100)) }
            }
            for lane in lanes.values { lane.stop() }
        }
    }
}

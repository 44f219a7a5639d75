import Foundation
import Histogram
import NIOConcurrencyHelpers

/// How hard and how long to push.
public struct LoadShape: Sendable {
    /// Connections, each sending one request at a time.
    public var concurrency: Int
    /// Requests per second across all connections; 0 = as fast as the ingress answers.
    public var rate: Double
    /// Stop after this long …
    public var duration: Duration?
    /// … or after this many requests (whichever comes first).
    public var count: Int?
    /// Requests made and signed before the clock starts (spread over the connections), so that
    /// generating them does not count against the server; more are made on the fly if needed.
    public var prepared: Int

    public init(concurrency: Int, rate: Double = 0, duration: Duration? = nil, count: Int? = nil, prepared: Int = 0) {
        self.concurrency = max(1, concurrency)
        self.rate = rate
        self.duration = duration
        self.count = count
        self.prepared = max(0, prepared)
    }
}

/// What a run did.
public struct LoadReport: Sendable {
    public var requests = 0
    /// Events in requests answered 2xx (what the ingress accepted).
    public var eventsAccepted = 0
    public var statuses: [Int: Int] = [:]
    /// Requests answered other than expected: 2xx for a forged one, non-2xx for a good one.
    public var unexpected = 0
    public var elapsed: Duration = .zero
    /// CPU time (user and system) the generator itself used while sending, preparation excluded:
    /// on a machine that also runs what it measures, its share of the cores.
    public var cpuSeconds: Double = 0
    /// Request latency in microseconds.
    public var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    public var seconds: Double { Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
    public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    public var eventsPerSecond: Double { seconds > 0 ? Double(eventsAccepted) / seconds : 0 }

    /// One answered request. No report is made per request: each report holds a histogram, too
    /// dear to build per request in a generator that must outrun the ingress.
    mutating func count(status: Int, events: Int, unexpected: Bool) {
        requests += 1
        eventsAccepted += events
        statuses[status, default: 0] += 1
        if unexpected { self.unexpected += 1 }
    }
}

/// Runs the load: `shape.concurrency` connections, each generating and sending its own requests.
public enum LoadRun {
    /// `progress` is called about once a second with the totals so far.
    public static func run(
        host: String, port: Int, plan: TrafficPlan, shape: LoadShape, progress: @escaping @Sendable (LoadReport) -> Void = { _ in }
    ) async throws -> LoadReport {
        let run = "load-\(UUID().uuidString.prefix(8).lowercased())"
        var generators = (0..<shape.concurrency).map { TrafficGenerator(plan: plan, run: "\(run)-\($0)") }
        let perWorker = (shape.prepared + shape.concurrency - 1) / shape.concurrency
        // Prepared on every core by Dispatch, not child tasks: with Swift concurrency on NIO's
        // event loops, children stay on their parent's loop. (This blocks the calling loop until
        // done; nothing else runs yet.) Each generator comes back advanced, so what it makes once
        // the prepared requests run out continues its sequence.
        let made = NIOLockedValueBox([(TrafficGenerator, [PlannedRequest])?](repeating: nil, count: shape.concurrency))
        DispatchQueue.concurrentPerform(iterations: shape.concurrency) { [generators] worker in
            var generator = generators[worker]
            let requests = (0..<perWorker).map { _ in generator.next() }
            made.withLockedValue { $0[worker] = (generator, requests) }
        }
        var prepared = Array(repeating: [PlannedRequest](), count: shape.concurrency)
        for (worker, result) in made.withLockedValue({ $0 }).enumerated() {
            guard let (generator, requests) = result else { continue }
            generators[worker] = generator
            prepared[worker] = requests
        }
        let start = ContinuousClock.now
        let cpuAtStart = processCPUSeconds()
        let deadline = shape.duration.map { start + $0 }
        let issued = NIOLockedValueBox(0)
        let live = NIOLockedValueBox(LoadReport())
        // With a rate, request n is due at start + n / rate: connections take turns by ticket.
        func ticket() -> Int? {
            issued.withLockedValue { count in
                if let limit = shape.count, count >= limit { return nil }
                count += 1
                return count - 1
            }
        }
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                var snapshot = live.withLockedValue { $0 }
                snapshot.elapsed = .now - start
                progress(snapshot)
            }
        }
        defer { reporter.cancel() }
        // Counts go to `live` only (progress reads it, and it is the final report); each connection
        // keeps its own latency histogram, merged once at the end.
        let latencies = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for worker in 0..<shape.concurrency {
                var generator = generators[worker]
                let ready = prepared[worker]
                group.addTask {
                    var latency = LoadReport().latency
                    var next = ready.makeIterator()
                    try await HTTPConnection.with(host: host, port: port) { connection in
                        while let n = ticket() {
                            if let deadline, ContinuousClock.now >= deadline { break }
                            if shape.rate > 0 {
                                let due = start + .milliseconds(Int64(Double(n) * 1000 / shape.rate))
                                if due > .now { try await Task.sleep(until: due) }
                            }
                            let request = next.next() ?? generator.next()
                            let sent = ContinuousClock.now
                            // A transport error ends the run (thrown out of the group).
                            let status = try await connection.post(path: request.path, headers: request.headers, body: request.body)
                            let micros = (ContinuousClock.now - sent).components
                            _ = latency.record(UInt64(micros.seconds) * 1_000_000 + UInt64(micros.attoseconds / 1_000_000_000_000))
                            let ok = (200..<300).contains(status)
                            live.withLockedValue {
                                $0.count(status: status, events: ok ? request.events : 0, unexpected: ok == request.bad)
                            }
                        }
                    }
                    return latency
                }
            }
            var all: [Histogram<UInt64>] = []
            for try await latency in group { all.append(latency) }
            return all
        }
        var report = live.withLockedValue { $0 }
        for latency in latencies { report.latency.add(latency) }
        report.elapsed = .now - start
        report.cpuSeconds = processCPUSeconds() - cpuAtStart
        return report
    }

    /// User and system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        let seconds = { (t: timeval) in Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// Tests that assert a wall-clock upper bound (a retry within 4.5 s, 12 rate-limited requests
/// within 4 s) hold this while they run, and so does a headless browser, which loads every core
/// for seconds: the two never overlap, so a bound fails for the code, not for a neighbour.
actor QuietCPU {
    static let shared = QuietCPU()
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    private func acquire() async {
        guard held else {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { held = false } else { waiting.removeFirst().resume() }
    }
}

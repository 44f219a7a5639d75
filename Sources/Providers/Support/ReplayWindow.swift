import Foundation

enum ReplayWindow {
    /// Throws `staleTimestamp` when `timestamp` (Unix seconds) is more than `window` seconds
    /// from `now`, in either direction. A window of zero accepts any time.
    static func check(_ timestamp: Double, window: Int, now: Date) throws(WebhookError) {
        guard window > 0 else { return }
        let skew = now.timeIntervalSince1970 - timestamp
        guard skew.isFinite, abs(skew) <= Double(window) else {
            // Formatted, never converted: a signed 1e300 must not trap.
            let distance = skew.isFinite && abs(skew) < 1e12 ? "\(Int64(skew)) s" : "far"
            throw WebhookError(.staleTimestamp, "signed timestamp is \(distance) from now; the window is \(window) s")
        }
    }
}

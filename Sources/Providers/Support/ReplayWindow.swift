import Foundation

enum ReplayWindow {
    /// Throws `staleTimestamp` when `timestamp` (Unix seconds) is more than `window` seconds
    /// from `now`, in either direction. A window of zero accepts any time.
    static func check(_ timestamp: Double, window: Int, now: Date) throws(WebhookError) {
        guard window > 0 else { return }
        let skew = now.timeIntervalSince1970 - timestamp
        guard abs(skew) <= Double(window) else {
            throw WebhookError(.staleTimestamp, "signed timestamp is \(Int(skew)) s from now; the window is \(window) s")
        }
    }
}

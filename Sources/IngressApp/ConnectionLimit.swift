#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many webhook connections the ingress holds open at once: the configured number, but never
/// so many that accepting one more would run the process out of file descriptors (each connection
/// is one; Redis connections, the operations port and certificate fetches need some too). Past the
/// limit the listener stops accepting, and new connections wait in the kernel's backlog until one
/// closes: the process keeps serving the ones it has.
enum ConnectionLimit {
    /// Descriptors kept for everything that is not a webhook connection.
    static let reserve = 64

    static func effective(configured: Int) -> Int {
        var limit = rlimit()
        // RLIM_INFINITY is all ones (the C macro does not import as a Swift constant).
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return max(1, configured) }
        let available = Int(clamping: limit.rlim_cur) - reserve
        return max(1, min(configured, available))
    }
}

import Foundation
import NIOConcurrencyHelpers
import RedisStreams

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with an empty signal mask. Foundation's `Process` passes on the test
/// runner's blocked signals, so a child would never see SIGTERM; `posix_spawn` with
/// `POSIX_SPAWN_SETSIGMASK` gives it the mask a process normally starts with.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Set once the child is reaped: its pid may then belong to someone else and is never signalled.
    private let reaped = NIOLockedValueBox<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// `logPath` receives the child's standard error, `stdoutPath` its standard output (default: discarded).
    static func spawn(
        _ path: String, _ arguments: [String], environment: [String: String]? = nil, logPath: String? = nil, stdoutPath: String? = nil
    ) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        // A crash prints its backtrace into the child's log, where the failing test shows it.
        var childEnvironment = environment ?? ProcessInfo.processInfo.environment
        childEnvironment["SWIFT_BACKTRACE"] = childEnvironment["SWIFT_BACKTRACE"] ?? "enable=yes,interactive=no,color=no"
        let env = childEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        // The child must not hold the test runner's output pipes: `swift test` waits for them to
        // close, so a child outliving a failed test would hang the whole run.
        var files = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&files)
        defer { posix_spawn_file_actions_destroy(&files) }
        posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&files, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&files, 2, logPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else of the test runner's (hundreds of sockets in a full run): a child under a
        // lowered open-file limit would start with it used up.
        // (glibc 2.34+; Swift's Glibc module does not declare it, so it is looked up.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&files, 3)
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &files, &attributes, argv, env)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        return ChildProcess(pid: pid)
    }

    func signal(_ signal: Int32) {
        reaped.withLockedValue { status in
            if status == nil { kill(pid, signal) }
        }
    }

    /// The exit status, or `nil` while it runs.
    func poll() -> (exited: Bool, code: Int32, signal: Int32)? {
        let reapedStatus = reaped.withLockedValue { reaped -> Int32? in
            if let reaped { return reaped }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            reaped = status
            return status
        }
        guard let status = reapedStatus else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (true, (status >> 8) & 0xff, 0) : (false, 0, signal)
    }

    /// Waits (without blocking a thread) until the process ends.
    func wait(timeout: Duration = .seconds(30)) async throws -> (exited: Bool, code: Int32, signal: Int32) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = poll() { return result }
            try await Task.sleep(for: .milliseconds(20))
        }
        signal(SIGKILL)
        throw CancellationError()
    }
}

/// A throwaway redis-server (no persistence) for tests that stop and start Redis.
final class RedisServerProcess: Sendable {
    let child: ChildProcess

    private init(child: ChildProcess) { self.child = child }

    /// With `dataDirectory`, an append-only file there (fsync always), so a restart finds the data.
    static func start(port: Int, dataDirectory: String? = nil) async throws -> RedisServerProcess {
        let persistence =
            dataDirectory.map { ["--dir", $0, "--appendonly", "yes", "--appendfsync", "always"] } ?? ["--appendonly", "no"]
        let child = try ChildProcess.spawn(
            "/usr/bin/redis-server", ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--loglevel", "warning"] + persistence)
        let probe = TestEnvironment.redis(port: port)
        defer { Task { await probe.close() } }
        try await TestEnvironment.eventually(timeout: .seconds(10), "redis-server on port \(port)") {
            (try? await probe.ping()) != nil
        }
        return RedisServerProcess(child: child)
    }

    func stop() async {
        child.signal(SIGKILL)
        _ = try? await child.wait()
    }
}

extension TestEnvironment {
    /// A TCP port nothing listens on now (the kernel's choice), for a child process to bind.
    /// A random pick in the ephemeral range can collide with a client connection's own port.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

// swift-tools-version:6.2
import PackageDescription

// Targets and what each may import are laid out in docs/DESIGN.md and checked by
// Scripts/check-imports: a pure core
// (EmailEvents, Providers), I/O at the leaves (RedisStreams, EventStore), thin executables.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "postwire",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "postwire-ingress", targets: ["PostwireIngress"]),
        .executable(name: "postwire-worker", targets: ["PostwireWorker"]),
        .executable(name: "postwire-dispatcher", targets: ["PostwireDispatcher"]),
        .executable(name: "postwire", targets: ["PostwireCLI"]),
    ],
    dependencies: [
        // Hummingbird's ConfigurationSupport trait is left off: we read configuration ourselves
        // and it would add swift-configuration to every build.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure core.
        .target(name: "EmailEvents", swiftSettings: swiftSettings),
        // Standard Webhooks' HMAC scheme (keys, signed content, v1 signatures): what the ingress
        // verifies, the samples sign and the dispatcher sends, in one place.
        .target(
            name: "WebhookSigning", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .target(
            name: "Providers",
            dependencies: [
                "EmailEvents", "WebhookSigning", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        // Typed settings for every component: values and defaults, no client.
        .target(
            name: "PostwireConfig",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Signed sample webhooks of every provider, for `postwire send-test`, the load generator and
        // the tests; never linked into the ingress or the worker.
        .target(
            name: "ProviderSamples",
            dependencies: ["EmailEvents", "Providers", "WebhookSigning", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // I/O leaves.
        .systemLibrary(
            name: "CHiredis",
            path: "Sources/CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "RedisStreams",
            dependencies: [
                "CHiredis", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What `RedisSettings` mean to the Redis client: connection settings and the stream layout.
        .target(
            name: "RedisSetup",
            dependencies: ["PostwireConfig", "RedisStreams", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // What `PostgresSettings` mean to PostgresNIO; the worker, the dispatcher and the CLI share it.
        .target(
            name: "PostgresSetup",
            dependencies: ["PostwireConfig", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EventStore",
            dependencies: [
                "EmailEvents", "WebhookSigning", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The operations port of both processes: /metrics (Prometheus), /healthz, /readyz; and --check-health.
        .target(
            name: "Operations",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // `postwire loadgen`: signed traffic over SwiftNIO connections, latencies in an HdrHistogram.
        .target(
            name: "LoadGen",
            dependencies: [
                "ProviderSamples", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // Applications: assemble services from the pieces above.
        .target(
            name: "IngressApp",
            dependencies: [
                "EmailEvents", "Providers", "RedisStreams", "RedisSetup", "PostwireConfig", "Operations",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WorkerApp",
            dependencies: [
                "EmailEvents", "RedisStreams", "RedisSetup", "PostgresSetup", "EventStore", "PostwireConfig", "Operations",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Outbound webhooks: claims due deliveries from PostgreSQL's outbox, signs them (Standard
        // Webhooks) and POSTs them. Only postwire-dispatcher links the HTTP client.
        .target(
            name: "DispatcherApp",
            dependencies: [
                "EventStore", "PostgresSetup", "PostwireConfig", "Operations", "WebhookSigning",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // What only the operator CLI uses: replay, the status report, text tables. Kept out of
        // WorkerApp so the worker does not link the providers.
        .target(
            name: "OperatorTools",
            dependencies: [
                "EmailEvents", "Providers", "RedisStreams", "EventStore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Thin executables.
        .executableTarget(
            name: "PostwireIngress",
            dependencies: [
                "IngressApp", "PostwireConfig", "Operations", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PostwireWorker",
            dependencies: [
                "WorkerApp", "PostwireConfig", "Operations", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PostwireDispatcher",
            dependencies: [
                "DispatcherApp", "PostwireConfig", "Operations", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PostwireCLI",
            dependencies: [
                "EmailEvents", "Providers", "ProviderSamples", "EventStore", "PostgresSetup", "PostwireConfig", "WorkerApp",
                "OperatorTools",
                "RedisStreams", "RedisSetup", "LoadGen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Measurements (not tests): see Benchmarks/.
        .executableTarget(
            name: "XAddRoundTrip",
            dependencies: ["CHiredis", "RedisStreams", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Benchmarks/XAddRoundTrip",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "BareRoute",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/BareRoute",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BatchWrite",
            dependencies: [
                "EmailEvents", "EventStore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/BatchWrite",
            swiftSettings: swiftSettings
        ),

        // Fuzz targets (Scripts/fuzz): libFuzzer entry point, or a replayer of corpus files.
        .executableTarget(
            name: "PostwireFuzz",
            dependencies: ["EmailEvents", "Providers", "RedisStreams", "RedisSetup", "PostwireConfig", "IngressApp"],
            path: "Fuzz/PostwireFuzz",
            swiftSettings: swiftSettings
        ),

        // Unit tests: no servers.
        .testTarget(name: "EmailEventsTests", dependencies: ["EmailEvents"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ProvidersTests",
            dependencies: [
                "Providers", "ProviderSamples", "EmailEvents", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RedisStreamsTests",
            dependencies: [
                "RedisStreams", "RedisSetup", "PostwireConfig", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "PostwireConfigTests", dependencies: ["PostwireConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DispatcherAppTests", dependencies: ["DispatcherApp", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IngressAppTests",
            dependencies: [
                "IngressApp", "Providers", "EmailEvents", "PostwireConfig", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "WorkerAppTests",
            dependencies: [
                "WorkerApp", "PostwireConfig", "EmailEvents", "EventStore", "RedisStreams",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // Integration tests: real Redis and PostgreSQL (Scripts/test starts them).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "EmailEvents", "Providers", "ProviderSamples", "RedisStreams", "RedisSetup", "EventStore", "IngressApp",
                "WorkerApp", "OperatorTools", "PostwireConfig", "Operations", "LoadGen", "DispatcherApp", "PostgresSetup",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

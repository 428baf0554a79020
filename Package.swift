// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Perimeter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "perimeter", targets: ["perimeter"]),
        .library(name: "PerimeterGateway", targets: ["PerimeterGateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The layers, bottom to top; a module imports only modules of a lower layer, and
        // scripts/check-imports holds the same table and fails CI on an import against it.
        //   0  PerimeterCore
        //   1  PerimeterProviders, PerimeterStorage, PerimeterUpstream, PerimeterScanner
        //   2  PerimeterSecrets, PerimeterAdminModels, PerimeterSQLite, PerimeterPostgres
        //   3  PerimeterProxy
        //   4  PerimeterAlerts, PerimeterRotation
        //   5  PerimeterAdmin, PerimeterConfiguration, PerimeterConsole
        //   6  PerimeterGateway
        //   7  perimeter (the CLI)

        // Keys, key format, policy, budgets and the ledger's state machine, pricing, usage, errors: no I/O.
        .target(
            name: "PerimeterCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Provider wire formats, without I/O: request inspection, usage metering of JSON and SSE, the demo
        // provider's answers.
        .target(
            name: "PerimeterProviders",
            dependencies: ["PerimeterCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The store protocols (keys, call log, sealed secrets, audit, findings, alerts), MemoryStore, the
        // Ledger and LocalLedger, BudgetBook.
        .target(
            name: "PerimeterStorage",
            dependencies: ["PerimeterCore"],
            swiftSettings: swiftSettings
        ),
        // Every store protocol on SQLite through GRDB (WAL): the embedded default.
        .target(
            name: "PerimeterSQLite",
            dependencies: [
                "PerimeterCore", "PerimeterStorage",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shared backend: every store protocol on PostgreSQL through PostgresNIO's pooled client.
        .target(
            name: "PerimeterPostgres",
            dependencies: [
                "PerimeterCore", "PerimeterStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP/1.1 client for provider calls: per-loop keep-alive pools, streamed bodies, TLS. Knows
        // nothing of keys, policy or providers.
        .target(
            name: "PerimeterUpstream",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // SecretStore: env and file references, the built-in encrypted store, Vault, AWS Secrets Manager,
        // Azure Key Vault, Google Secret Manager.
        .target(
            name: "PerimeterSecrets",
            dependencies: [
                "PerimeterCore", "PerimeterStorage", "PerimeterScanner",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The admin API's request and response bodies, shared by the server and the CLI.
        .target(
            name: "PerimeterAdminModels",
            dependencies: ["PerimeterCore", "PerimeterStorage"],
            swiftSettings: swiftSettings
        ),
        // memmem for the scanner's literal prefilter (glibc declares it only under _GNU_SOURCE).
        .target(name: "CMemmem"),
        // zlib's inflate, for the zip entries the scanner opens (zlib is on every machine NIO builds on).
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // The leak scanner: rules, detector, sources (working tree, git history, index), reports, baseline.
        .target(
            name: "PerimeterScanner",
            dependencies: ["PerimeterCore", "CMemmem", "CZlib"],
            // Optimized in debug builds too: the tests scan whole repositories and millions of random keys.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The path of one call: authenticate (key cache), admit (policy, rates, budgets), forward, relay
        // while metering, settle, and hand the record to the call-log writer; request metrics.
        .target(
            name: "PerimeterProxy",
            dependencies: [
                "PerimeterCore", "PerimeterProviders", "PerimeterStorage", "PerimeterSecrets", "PerimeterUpstream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Provider admin APIs (OpenAI, Anthropic): the provider's own key list and usage, matched against
        // the credentials the gateway holds, stored for the inventory; shadow-usage and unmanaged-key alerts.
        .target(
            name: "PerimeterProviderAdmin",
            dependencies: [
                "PerimeterCore", "PerimeterStorage", "PerimeterSecrets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Alerts: settled calls in, rules applied, alerts out through a durable outbox to webhooks and Slack.
        .target(
            name: "PerimeterAlerts",
            dependencies: [
                "PerimeterCore", "PerimeterStorage", "PerimeterSecrets", "PerimeterProxy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Key rotation: new secrets for the same key id, grace periods, delivery into Vault or AWS.
        .target(
            name: "PerimeterRotation",
            dependencies: [
                "PerimeterCore", "PerimeterStorage", "PerimeterSecrets", "PerimeterProxy",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The admin API: routes, request and response models, the OpenAPI document, authority and audit.
        .target(
            name: "PerimeterAdmin",
            dependencies: [
                "PerimeterCore", "PerimeterStorage", "PerimeterSecrets", "PerimeterProxy", "PerimeterAlerts",
                "PerimeterRotation", "PerimeterAdminModels", "PerimeterProviderAdmin",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web console at /console/: its page, scripts and styles embedded in the binary, served with a
        // strict Content-Security-Policy. It speaks only the admin API.
        .target(
            name: "PerimeterConsole",
            dependencies: [
                "PerimeterCore", "PerimeterProxy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.embedInCode("Assets")],
            swiftSettings: swiftSettings
        ),
        // YAML, environment and flags to a typed GatewayConfiguration, with the loader's error messages.
        .target(
            name: "PerimeterConfiguration",
            dependencies: [
                "PerimeterCore", "PerimeterProviders", "PerimeterSecrets", "PerimeterAlerts", "PerimeterRotation",
                "PerimeterPostgres", "PerimeterAdminModels",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: buildApplication, the services and their wiring. Nothing else.
        .target(
            name: "PerimeterGateway",
            dependencies: [
                "PerimeterCore", "PerimeterProviders", "PerimeterStorage", "PerimeterSQLite", "PerimeterPostgres", "PerimeterSecrets",
                "PerimeterUpstream", "PerimeterProxy", "PerimeterAlerts", "PerimeterRotation", "PerimeterAdmin",
                "PerimeterConfiguration", "PerimeterProviderAdmin", "PerimeterConsole",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "perimeter",
            dependencies: [
                "PerimeterGateway", "PerimeterAdminModels", "PerimeterConfiguration", "PerimeterCore", "PerimeterScanner",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PerimeterCoreTests", dependencies: ["PerimeterCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterProviderAdminTests",
            dependencies: ["PerimeterProviderAdmin", "PerimeterCore", "PerimeterStorage", "PerimeterSecrets"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterProvidersTests",
            dependencies: ["PerimeterProviders", "PerimeterCore", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterScannerTests",
            dependencies: ["PerimeterScanner", "PerimeterCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .testTarget(
            name: "PerimeterStorageTests",
            dependencies: [
                "PerimeterStorage", "PerimeterSQLite", "PerimeterPostgres", "PerimeterCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterRotationTests",
            dependencies: ["PerimeterRotation", "PerimeterStorage", "PerimeterSecrets", "PerimeterProxy", "PerimeterCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterSecretsTests",
            dependencies: [
                "PerimeterSecrets", "PerimeterStorage", "PerimeterSQLite", "PerimeterCore",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterUpstreamTests",
            dependencies: [
                "PerimeterUpstream",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterConfigurationTests",
            dependencies: [
                "PerimeterConfiguration", "PerimeterAlerts", "PerimeterCore", "PerimeterProviders", "PerimeterSecrets",
                "PerimeterAdminModels",
            ],
            swiftSettings: swiftSettings
        ),
        // Test support, never shipped: a gateway built on the memory store with a scripted upstream, for the
        // router tests of the proxy and admin modules (HummingbirdTesting, no sockets).
        .target(
            name: "PerimeterGatewayTesting",
            dependencies: [
                "PerimeterGateway", "PerimeterProxy", "PerimeterConfiguration", "PerimeterUpstream", "PerimeterAdmin",
                "PerimeterAlerts", "PerimeterRotation", "PerimeterSecrets", "PerimeterProviders", "PerimeterCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/PerimeterGatewayTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterProxyTests",
            dependencies: [
                "PerimeterProxy", "PerimeterGatewayTesting", "PerimeterCore", "PerimeterUpstream", "PerimeterProviders",
                "PerimeterSecrets", "PerimeterStorage",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterAdminTests",
            dependencies: [
                "PerimeterAdmin", "PerimeterGateway", "PerimeterGatewayTesting", "PerimeterProxy", "PerimeterRotation", "PerimeterConsole",
                "PerimeterSecrets", "PerimeterCore", "PerimeterAdminModels", "PerimeterStorage",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterAlertsTests",
            dependencies: [
                "PerimeterAlerts", "PerimeterCore", "PerimeterProxy", "PerimeterSecrets", "PerimeterStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: opening stores and checking secrets as `serve` does.
        .testTarget(
            name: "PerimeterGatewayTests",
            dependencies: ["PerimeterGateway", "PerimeterConfiguration", "PerimeterSecrets", "PerimeterCore"],
            swiftSettings: swiftSettings
        ),
    ]
)

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
    ],
    targets: [
        // Keys, policy, pricing, usage, errors: plain Swift, no I/O.
        .target(
            name: "PerimeterCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // OpenAI and Anthropic wire formats: request inspection and usage metering of JSON and SSE.
        .target(
            name: "PerimeterProviders",
            dependencies: ["PerimeterCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // KeyStore and CallLog: in memory and SQLite (GRDB).
        .target(
            name: "PerimeterStorage",
            dependencies: [
                "PerimeterCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // SecretStore: env and file references.
        .target(
            name: "PerimeterSecrets",
            dependencies: [
                "PerimeterCore", "PerimeterStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // memmem for the scanner's literal prefilter (glibc declares it only under _GNU_SOURCE).
        .target(name: "CMemmem"),
        // The leak scanner: rules, detector, sources (working tree, git history, index), reports, baseline.
        .target(
            name: "PerimeterScanner",
            dependencies: ["PerimeterCore", "CMemmem", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The Hummingbird application: proxy routes, admin API, services, configuration.
        .target(
            name: "PerimeterGateway",
            dependencies: [
                "PerimeterCore", "PerimeterProviders", "PerimeterStorage", "PerimeterSecrets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "perimeter",
            dependencies: [
                "PerimeterGateway", "PerimeterCore", "PerimeterScanner",
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
            name: "PerimeterProvidersTests",
            dependencies: ["PerimeterProviders", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PerimeterScannerTests", dependencies: ["PerimeterScanner", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .testTarget(name: "PerimeterStorageTests", dependencies: ["PerimeterStorage"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterSecretsTests", dependencies: ["PerimeterSecrets", "PerimeterStorage"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PerimeterGatewayTests",
            dependencies: [
                "PerimeterGateway",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

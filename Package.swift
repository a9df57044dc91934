// swift-tools-version:6.2
import PackageDescription

/// One settings array for every target, so the whole package compiles under the same rules.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "stableid",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stableid", targets: ["stableid"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C libraries, wrapped by exactly one Swift module each.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Toolchain-only helpers every other module shares (hex, RFC 3339, blocking executor).
        .target(
            name: "Support",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                "Support",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Curl",
            dependencies: ["CCurl", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Cognito",
            dependencies: [
                "Curl",
                "CryptoPrimitives",
                "Support",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CryptoPrimitives",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IdentityMap",
            dependencies: [
                "Postgres",
                "CryptoPrimitives",
                "Support",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AuditTrail",
            dependencies: ["IdentityMap", "Postgres", "CryptoPrimitives", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CognitoIngest",
            dependencies: [
                "Cognito",
                "Curl",
                "IdentityMap",
                "Support",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "UserMigration",
            dependencies: [
                "IdentityMap", "Cognito", "CognitoIngest", "Postgres", "Support",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // A compiler builtin Swift cannot spell: the prefetch hint the lookup cache's batches use.
        .target(name: "CPrefetch"),
        .target(
            name: "LookupCache",
            dependencies: [
                "CPrefetch", "IdentityMap", "Postgres", "Support",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The change feed backends follow (GET /v1/changes), derived from the audit events.
        .target(
            name: "ChangeFeed",
            dependencies: [
                "IdentityMap", "Postgres", "CryptoPrimitives", "Support",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Webhook endpoints and `serve`'s deliveries of the change feed to them (Standard Webhooks).
        .target(
            name: "Webhooks",
            dependencies: [
                "ChangeFeed", "IdentityMap", "Postgres", "Curl", "CryptoPrimitives", "Support",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reconciliation",
            dependencies: [
                "IdentityMap", "CognitoIngest", "Cognito", "UserMigration", "Postgres", "Support",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The report page as HTML: pure rendering of values gathered elsewhere (no database, no HTTP).
        .target(
            name: "CampaignReport",
            dependencies: ["IdentityMap", "UserMigration", "Reconciliation", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StableIDAPI",
            dependencies: [
                "AuditTrail",
                "CampaignReport",
                "ChangeFeed",
                "CognitoIngest",
                "UserMigration",
                "Reconciliation",
                "LookupCache",
                "Cognito",
                "IdentityMap",
                "CryptoPrimitives",
                "Postgres",
                "Support",
                "Webhooks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "stableid",
            dependencies: [
                "AuditTrail",
                "CampaignReport",
                "Cognito",
                "CognitoIngest",
                "CryptoPrimitives",
                "IdentityMap",
                "UserMigration",
                "Reconciliation",
                "StableIDAPI",
                "Postgres",
                "Support",
                "Webhooks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TestSupport",
            dependencies: [
                "Postgres", "IdentityMap", "Cognito", "CryptoPrimitives",
                // A test-only RSA signer (TestRSAKey): the service itself only verifies.
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LookupCacheTests",
            dependencies: [
                "LookupCache", "IdentityMap", "Postgres", "Support", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChangeFeedTests",
            dependencies: [
                "ChangeFeed", "IdentityMap", "AuditTrail", "Postgres", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebhooksTests",
            dependencies: ["Webhooks", "ChangeFeed", "Curl"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReconciliationTests",
            dependencies: ["Reconciliation", "IdentityMap", "UserMigration", "Postgres", "Support", "TestSupport", "Webhooks"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "IdentityMap", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CognitoTests",
            dependencies: [
                "Cognito", "Curl", "CryptoPrimitives", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CognitoIngestTests",
            dependencies: ["CognitoIngest", "Cognito", "IdentityMap", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditTrailTests",
            dependencies: ["AuditTrail", "IdentityMap", "Postgres", "CryptoPrimitives", "Support", "TestSupport", "UserMigration"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CryptoPrimitivesTests",
            dependencies: ["CryptoPrimitives", "Support"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IdentityMapTests",
            dependencies: ["IdentityMap", "AuditTrail", "Postgres", "CryptoPrimitives", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StableIDAPITests",
            dependencies: [
                "StableIDAPI", "IdentityMap", "Postgres", "TestSupport", "UserMigration", "Cognito", "AuditTrail", "Reconciliation",
                "CognitoIngest", "LookupCache", "CryptoPrimitives", "ChangeFeed", "Curl", "Webhooks", "Support",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CampaignReportTests",
            dependencies: ["CampaignReport", "UserMigration", "IdentityMap", "Reconciliation"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "UserMigrationTests",
            dependencies: ["UserMigration", "IdentityMap", "Cognito", "Postgres", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SupportTests",
            dependencies: ["Support"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CurlTests",
            dependencies: [
                "Curl", "Support",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "TestSupport", "Postgres", "Cognito", "CognitoIngest", "IdentityMap", "Reconciliation", "UserMigration",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

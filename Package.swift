// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ShopTrail",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "shoptrail", targets: ["shoptrail"]),
        .library(name: "ShopTrail", targets: ["ShopTrail"]),
        .library(name: "BrazeSandbox", targets: ["BrazeSandbox"]),
        .library(name: "ShopifyAdminEmulator", targets: ["ShopifyAdminEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // 4.x: jwt-kit 5 needs swift-crypto 4.1 or later (the HMAC/SHA-256 API used here is unchanged).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // SDK Authentication JWTs; 5.8 would add swift-extras-base64 as one more package.
        .package(url: "https://github.com/vapor/jwt-kit.git", .upToNextMinor(from: "5.7.1")),
        // The PostgreSQL storage engine (several instances on one database).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "ShopTrail",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                // Only to tell a too-small RSA key from a non-RSA one in config errors (jwt-kit's own error is internal).
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "BrazeSandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "ShopifyAdminEmulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "shoptrail",
            dependencies: [
                "ShopTrail",
                "BrazeSandbox",
                "ShopifyAdminEmulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ShopTrailTests",
            dependencies: [
                "ShopTrail",
                "BrazeSandbox",
                "ShopifyAdminEmulator",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // Test keys for SDK Authentication (RSA generation).
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "BrazeSandboxTests",
            dependencies: [
                "BrazeSandbox",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ShopifyAdminEmulatorTests",
            dependencies: [
                "ShopifyAdminEmulator",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

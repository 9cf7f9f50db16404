// swift-tools-version:6.1
import PackageDescription

/// A filterd of your own: the built-in processors plus one written here, in the same
/// `filterd server|client|all-in-one` program.
let package = Package(
    name: "custom-processor-example",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "email-content-filter", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "my-filterd",
            dependencies: [
                .product(name: "FilterdCommands", package: "email-content-filter"),
                .product(name: "FilterProcessors", package: "email-content-filter"),
                .product(name: "FilterCore", package: "email-content-filter"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

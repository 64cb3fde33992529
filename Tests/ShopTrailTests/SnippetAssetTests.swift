import Crypto
import Foundation
import Testing
@testable import ShopTrail

/// The embedded build must be the committed files (scripts/build-tracker regenerates both).
@Suite struct SnippetAssetTests {
    func file(_ path: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func embeddedAssetsMatchTheirSources() throws {
        #expect(EmbeddedAssets.trackerJavaScript == (try file("Public/shoptrail.min.js")))
        #expect(EmbeddedAssets.brazeLoaderJavaScript == (try file("Public/braze-loader.min.js")))
        #expect(EmbeddedAssets.snippetTemplate == (try file("Templates/shoptrail.liquid.mustache")))
        #expect(EmbeddedAssets.pixelTemplate == (try file("Templates/pixel.js.mustache")))
    }

    @Test func versionIsTheHashOfTheServedCode() {
        let digest = SHA256.hash(data: Array(EmbeddedAssets.trackerJavaScript.utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(digest == EmbeddedAssets.trackerSHA256)
        #expect(TrackerAsset.embedded.version == String(digest.prefix(12)))
        let loader = SHA256.hash(data: Array(EmbeddedAssets.brazeLoaderJavaScript.utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(TrackerAsset.brazeLoader.version == String(loader.prefix(12)) && loader == EmbeddedAssets.brazeLoaderSHA256)
    }

    @Test func gzipBuildIsAGzipStreamSmallerThanTheCode() {
        let gz = TrackerAsset.embedded.gzipped
        #expect(gz.starts(with: [0x1f, 0x8b, 0x08]))
        // The tracker's budget, as served: 2.5 KB min+gzip (Tests/browser/size_check.py enforces it too).
        #expect(gz.count <= 2560)
        // ISIZE (last four bytes, little endian) is the uncompressed length.
        let size = gz.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(size == EmbeddedAssets.trackerJavaScript.utf8.count)
        let loader = TrackerAsset.brazeLoader.gzipped
        #expect(loader.starts(with: [0x1f, 0x8b, 0x08]) && loader.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) } == EmbeddedAssets.brazeLoaderJavaScript.utf8.count)
    }

    @Test func trackerCanBeInlinedInLiquidAndHTML() {
        for bad in ["</script", "{% endraw", "{%- endraw"] {
            #expect(!EmbeddedAssets.trackerJavaScript.contains(bad))
        }
    }
}

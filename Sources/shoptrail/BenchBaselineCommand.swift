import ArgumentParser
import Hummingbird
import NIOCore

/// `shoptrail bench-baseline`: a bare Hummingbird endpoint with the collector's path, for the benchmark's ratio.
///
/// It reads the same body the collector reads and answers the same way, but parses and stores nothing,
/// so the gap to `serve` is exactly what validation and the durable commit cost.
struct BenchBaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-baseline", abstract: "Bare-framework baseline for Benchmarks/ingest.sh.", shouldDisplay: false)

    @Option var host = "127.0.0.1"
    @Option var port = 8099

    func run() async throws {
        let router = Router()
        router.post("/v1/batch") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 * 1024)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true,"accepted":\#(body.readableBytes > 0 ? 1 : 0),"duplicates":0}"#))
            )
        }
        router.get("/healthz") { _, _ in "ok" }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "baseline"))
        try await app.runService()
    }
}

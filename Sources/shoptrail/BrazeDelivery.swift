import AsyncHTTPClient
import BrazeSandbox
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ShopTrail
import Synchronization

/// How `serve` reaches Braze: each shop's own REST endpoint, or an in-process BrazeSandbox for
/// shops without an API key, so a newcomer sees profiles appear without a Braze account.
struct BrazeDelivery {
    /// Shop domain → where its operations go.
    var senders: [String: any BrazeSending] = [:]
    /// Shops served by the in-process sandbox.
    var sandboxShops: [String] = []
    /// The in-process sandbox, when any shop uses it.
    var sandbox: (any Service)?

    /// `sandboxPort` 0 picks a free port; `onSandboxRunning` gets the bound port.
    init(config: ShopTrailConfig, httpClient: HTTPClient, sandboxHost: String, sandboxPort: Int,
         onSandboxRunning: @escaping @Sendable (Int) async -> Void) {
        let endpoint = SandboxEndpoint()
        // A fresh key per process: the sandbox listens on loopback only, but nothing else should write to it.
        let key = "sandbox-" + UUID().uuidString.lowercased()
        for shop in config.shops {
            if let client = BrazeClient(httpClient: httpClient, config: shop.braze) {
                senders[shop.domain] = client
            } else {
                senders[shop.domain] = SandboxSender(endpoint: endpoint, httpClient: httpClient, apiKey: Secret(key))
                sandboxShops.append(shop.domain)
            }
        }
        guard !sandboxShops.isEmpty else { return }
        var configuration = BrazeSandboxConfiguration()
        configuration.apiKeys = [BrazeAPIKey(key)]
        sandbox = buildBrazeSandboxApplication(configuration: configuration, host: sandboxHost, port: sandboxPort) { port in
            endpoint.set("http://\(sandboxHost):\(port)")
            await onSandboxRunning(port)
        }
    }
}

/// The in-process sandbox's URL, known once it listens.
final class SandboxEndpoint: Sendable {
    private let url = Mutex<String?>(nil)
    func set(_ value: String) { url.withLock { $0 = value } }
    func get() -> String? { url.withLock { $0 } }
}

/// Sends to the in-process sandbox; before it listens, answers as an unreachable Braze would (retry later).
struct SandboxSender: BrazeSending {
    let endpoint: SandboxEndpoint
    let httpClient: HTTPClient
    let apiKey: Secret

    func send(_ request: BrazeRequest) async -> BrazeAnswer {
        guard let url = endpoint.get() else {
            return BrazeAnswer(response: .retryable(status: nil, reason: "the in-process Braze sandbox is not listening yet"))
        }
        return await BrazeClient(httpClient: httpClient, restEndpoint: url, apiKey: apiKey).send(request)
    }
}

import Foundation
import HTTPTypes
import Hummingbird

/// `/_emulator/*`: not part of Shopify. Counters, data set summary, stock and product changes, bulk result files, reset.
struct EmulatorInspectionRoutes: Sendable {
    let state: ShopifyEmulatorState

    func add<Context: RequestContext>(to router: Router<Context>) {
        let state = self.state
        router.get("/_emulator/stats") { _, _ in
            emulatorResponse(ShopifyEmulatorResponse(status: 200, body: await state.stats().json))
        }
        router.get("/_emulator/dataset/summary") { _, _ in
            emulatorResponse(ShopifyEmulatorResponse(status: 200, body: await state.datasetSummary()))
        }
        router.post("/_emulator/inventory") { request, _ in
            guard let body = await collectEmulatorBody(request, limit: 1 << 16), let json = ShopifyJSON.parse(body) else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 400, body: ["error": "body must be JSON: {\"inventory_item_id\": …, \"available\": …}"]))
            }
            guard let itemId = Self.int64(json["inventory_item_id"]), let available = json["available"]?.intValue else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 400, body: ["error": "inventory_item_id and available (integers) are required"]))
            }
            guard let update = await state.setInventory(inventoryItemId: itemId, available: Int(available)) else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 404, body: ["error": "no variant has this inventory item", "inventory_item_id": .int(itemId)]))
            }
            return emulatorResponse(ShopifyEmulatorResponse(status: 200, body: update.json))
        }
        router.post("/_emulator/product") { request, _ in
            guard let body = await collectEmulatorBody(request, limit: 1 << 16), let json = ShopifyJSON.parse(body),
                  let id = Self.int64(json["id"]) else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 400, body: ["error": "body must be JSON with a numeric or gid \"id\""]))
            }
            let title = json["title"]?.stringValue, vendor = json["vendor"]?.stringValue, productType = json["product_type"]?.stringValue
            let status = json["status"]?.stringValue.flatMap { ShopifyProductStatus(rawValue: $0.uppercased()) }
            if json["status"] != nil, status == nil {
                return emulatorResponse(ShopifyEmulatorResponse(status: 400, body: ["error": "status must be ACTIVE, DRAFT or ARCHIVED"]))
            }
            let updated = await state.updateProduct(id: id) { product in
                if let title { product.title = title }
                if let vendor { product.vendor = vendor }
                if let productType { product.productType = productType }
                if let status { product.status = status }
            }
            guard let updated else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 404, body: ["error": "product not found"]))
            }
            return emulatorResponse(ShopifyEmulatorResponse(status: 200, body: [
                "id": .int(updated.id), "admin_graphql_api_id": .string(updated.gid), "title": .string(updated.title),
                "status": .string(updated.status.rawValue.lowercased()), "updated_at": .string(ShopifyTime.format(updated.updatedAt)),
            ]))
        }
        router.get("/_emulator/bulk/:file") { _, context in
            let file = context.parameters.get("file") ?? ""
            guard file.hasSuffix(".jsonl"), let id = Int64(file.dropLast(".jsonl".count)), let data = await state.bulkResult(id: id) else {
                return emulatorResponse(ShopifyEmulatorResponse(status: 404, body: ["error": "no such bulk result"]))
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/jsonl"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/_emulator/reset") { _, _ in
            await state.reset()
            return emulatorResponse(ShopifyEmulatorResponse(status: 200, body: ["message": "reset"]))
        }
    }

    /// A numeric id given as a JSON number, a numeric string or a gid.
    static func int64(_ value: ShopifyJSON?) -> Int64? {
        switch value {
        case .int(let number)?: return number
        case .string(let text)?: return Int64(text.split(separator: "/").last.map { String($0.prefix { $0 != "?" }) } ?? text)
        default: return nil
        }
    }
}

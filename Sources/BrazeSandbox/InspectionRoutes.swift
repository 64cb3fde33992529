import Foundation
import Hummingbird

/// `/_sandbox/*`: not part of Braze. Read profiles, requests, catalogs and stats; inject faults; reset.
struct InspectionRoutes: Sendable {
    let state: BrazeSandboxState

    func add<Context: RequestContext>(to router: Router<Context>) {
        let state = self.state
        router.get("/_sandbox/users") { _, _ in jsonResponse(SandboxResponse(status: 200, body: await state.usersJSON())) }
        router.get("/_sandbox/users/:external_id") { _, context in
            let raw = context.parameters.get("external_id") ?? ""
            let id = raw.removingPercentEncoding ?? raw
            guard let user = await state.userJSON(externalId: id) else {
                return jsonResponse(SandboxResponse(status: 404, body: ["message": "user not found", "external_id": .string(id)]))
            }
            return jsonResponse(SandboxResponse(status: 200, body: user))
        }
        router.get("/_sandbox/requests") { request, _ in
            let path = request.uri.queryParameters.get("path")
            return jsonResponse(SandboxResponse(status: 200, body: await state.requestsJSON(path: path)))
        }
        router.get("/_sandbox/catalogs") { _, _ in jsonResponse(SandboxResponse(status: 200, body: await state.catalogsJSON())) }
        router.get("/_sandbox/catalogs/:name/items") { _, context in
            let raw = context.parameters.get("name") ?? ""
            let name = raw.removingPercentEncoding ?? raw
            guard let items = await state.catalogItemsJSON(name: name) else {
                return jsonResponse(SandboxResponse(status: 404, body: ["message": "catalog not found", "name": .string(name)]))
            }
            return jsonResponse(SandboxResponse(status: 200, body: items))
        }
        router.get("/_sandbox/faults") { _, _ in jsonResponse(SandboxResponse(status: 200, body: await state.faultsJSON())) }
        router.post("/_sandbox/faults") { request, _ in
            guard let body = await collectBody(request, limit: 1 << 16) else {
                return jsonResponse(.fatal(413, "fault body too large"))
            }
            return jsonResponse(await state.configureFaults(body))
        }
        router.post("/_sandbox/reset") { _, _ in
            await state.reset()
            return jsonResponse(SandboxResponse(status: 200, body: ["message": "reset"]))
        }
        router.get("/_sandbox/stats") { _, _ in jsonResponse(SandboxResponse(status: 200, body: await state.statsJSON())) }
    }
}

import Testing
@testable import BrazeSandbox

@Test func sandboxModuleLinks() {
    #expect(BrazeSandboxInfo.name == "BrazeSandbox")
}

import Testing
@testable import ShopTrail
@Test func version() { #expect(!ShopTrailVersion.string.isEmpty) }

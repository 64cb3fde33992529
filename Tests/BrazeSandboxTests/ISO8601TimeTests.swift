import Foundation
import Testing
@testable import BrazeSandbox

@Suite struct ISO8601TimeTests {
    @Test(arguments: [
        ("2025-03-01T10:00:00Z", 1_740_823_200.0),
        ("2025-03-01T12:00:00+02:00", 1_740_823_200.0),
        ("2025-03-01T05:00:00-0500", 1_740_823_200.0),
        ("2025-03-01T10:00:00.250Z", 1_740_823_200.25),
        ("2025-03-01T10:00:00:250+0000", 1_740_823_200.25),
        ("1970-01-01T00:00:00Z", 0.0),
        ("2000-02-29", 951_782_400.0),
    ])
    func parses(text: String, epoch: Double) throws {
        let date = try #require(ISO8601Time.parse(text))
        #expect(abs(date.timeIntervalSince1970 - epoch) < 0.0005)
    }

    @Test(arguments: ["", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-03-01T24:00:00Z", "2025-03-01T10:00:00+25:00",
                      "2025-3-1T10:00:00Z", "2025-03-01T10:00:00Zjunk", "2025-03-01T10:00:00.Z", "tomorrow"])
    func rejects(text: String) {
        #expect(ISO8601Time.parse(text) == nil)
    }

    @Test func formatsUTCWithMilliseconds() {
        #expect(ISO8601Time.format(Date(timeIntervalSince1970: 1_740_823_200.25)) == "2025-03-01T10:00:00.250Z")
    }
}

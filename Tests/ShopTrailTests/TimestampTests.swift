import Testing
@testable import ShopTrail

@Suite struct TimestampTests {
    @Test func parsesUTCWithAndWithoutFraction() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamp.parse("1970-01-01T00:00:01.5Z") == 1500)
        #expect(Timestamp.parse("2026-11-23T10:00:00.123Z") == 1_795_428_000_123)
        #expect(Timestamp.parse("2026-11-23T10:00:00.123456Z") == 1_795_428_000_123)
    }

    @Test func appliesOffsets() {
        #expect(Timestamp.parse("2026-11-23T11:00:00+01:00") == Timestamp.parse("2026-11-23T10:00:00Z"))
        #expect(Timestamp.parse("2026-11-23T05:30:00-04:30") == Timestamp.parse("2026-11-23T10:00:00Z"))
    }

    @Test(arguments: ["", "2026-11-23", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-23T24:00:00Z",
                      "2026-11-23T10:00:00", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00+0100", "2026-11-23T10:00:00Zjunk",
                      "1795428000000", "2026/11/23T10:00:00Z"])
    func rejectsWhatIsNotATime(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func acceptsLeapDay() {
        #expect(Timestamp.parse("2028-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse("2027-02-29T00:00:00Z") == nil)
    }

    @Test(arguments: [Int64(0), 1_795_428_000_123, 951_782_400_000, -1, 4_102_444_799_999])
    func formatRoundTrips(millis: Int64) {
        #expect(Timestamp.parse(Timestamp.format(millis)) == millis)
    }
}

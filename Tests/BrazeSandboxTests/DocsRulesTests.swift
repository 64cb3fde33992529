import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

/// The rules of Braze's current documentation (braze-inc/braze-docs), one test or more per rule; each names its page.
@Suite struct DocsRulesTests {
    static func attributes(_ count: Int) -> JSONValue {
        .array((0..<count).map { ["external_id": .string("a\($0)"), "first_name": "A"] })
    }

    static func events(_ count: Int) -> JSONValue { .array((0..<count).map { _ in Make.event() }) }

    static func purchases(_ count: Int) -> JSONValue {
        .array((0..<count).map { _ in ["external_id": "u1", "product_id": "p", "currency": "USD", "price": 1, "time": .string(Make.time)] })
    }

    // MARK: Rule 1: objects per /users/track request

    /// Current rate-limit page: "up to 75 total objects combined across attributes, events, and purchases";
    /// `_docs/_api/errors.md`: 400 "Max Input Length Exceeded". The whole request is refused.
    @Test func apiLimits_usersTrackTakes75ObjectsInTotalByDefault() async throws {
        try await withSandbox { client in
            let refused = try await client.track(["attributes": Self.attributes(40), "events": Self.events(36)])
            #expect(refused.status == 400)
            #expect(refused.message == "Max Input Length Exceeded")
            #expect(refused.errors.first?["type"]?.stringValue?.contains("76") == true)
            #expect(try await client.users().isEmpty, "a refused request writes nothing")
            let accepted = try await client.track(["attributes": Self.attributes(40), "events": Self.events(35)])
            #expect(accepted.status == 201)
            #expect(accepted.body["attributes_processed"] == 40)
            #expect(accepted.body["events_processed"] == 35)
        }
    }

    /// `_docs/_api/endpoints/user_data/post_user_track.md`, "Monthly Active Users CY 24-25": "Each request may batch up
    /// to 50 updates combined across attribute, event, or purchase objects."
    @Test func postUserTrack_monthlyActiveUsersAccountsTake50() async throws {
        try await withSandbox({ $0.limits.maxTrackObjects = 50 }) { client in
            let refused = try await client.track(["attributes": Self.attributes(20), "events": Self.events(20), "purchases": Self.purchases(11)])
            #expect(refused.status == 400)
            #expect(refused.message == "Max Input Length Exceeded")
            let accepted = try await client.track(["attributes": Self.attributes(20), "events": Self.events(20), "purchases": Self.purchases(10)])
            #expect(accepted.status == 201)
        }
    }

    /// `_docs/_api/api_limits.md` (legacy wording, "Batching requests for Track users endpoint"): "up to 75 event objects,
    /// 75 attribute objects, and 75 purchase objects", 225 in all.
    @Test func apiLimits_legacyAccountsTake75PerArray() async throws {
        try await withSandbox({ $0.limits.legacyPerArrayLimits = true }) { client in
            let accepted = try await client.track(["attributes": Self.attributes(75), "events": Self.events(75), "purchases": Self.purchases(75)])
            #expect(accepted.status == 201)
            #expect(accepted.errors.isEmpty)
            let refused = try await client.track(["events": Self.events(76)])
            #expect(refused.status == 400)
            #expect(refused.message == "Max Input Length Exceeded")
            #expect(refused.errors.first?["input_array"] == "events")
        }
    }

    @Test func requestLimitDefaults() {
        let limits = BrazeRequestLimits()
        #expect(limits.maxTrackObjects == 75)
        #expect(!limits.legacyPerArrayLimits)
        #expect(limits.maxBodyBytes == 4_000_000)
        #expect(limits.maxEventPropertyBytes == 100_000)
        #expect(limits.maxPurchasePropertyBytes == 50_000)
    }

    // MARK: Rule 2: rate-limit headers and documented limits

    /// `_docs/_api/api_limits.md`: "Every single API request sent to Braze returns the following information in the
    /// response headers: X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"; the documented limit per endpoint.
    @Test func apiLimits_everyAnswerCarriesTheDocumentedLimit() async throws {
        try await withSandbox { client in
            let cases: [(String, JSONValue, String)] = [
                ("/users/track", ["events": [Make.event()]], "3000"),
                ("/users/delete", ["external_ids": ["x"]], "20000"),
                ("/users/alias/new", ["user_aliases": [Make.alias("n", "l")]], "20000"),
                ("/users/export/ids", ["external_ids": ["u1"]], "250"),
                ("/subscription/status/set", ["subscription_group_id": "g", "subscription_state": "subscribed", "external_id": ["u1"]], "5000"),
                ("/catalogs", ["catalogs": [["name": "c", "fields": [["name": "id", "type": "string"]]]]], "50"),
            ]
            for (path, body, limit) in cases {
                let answer = try await client.braze(path, json: body)
                #expect(answer.header("X-RateLimit-Limit") == limit, "\(path)")
                #expect(answer.header("X-RateLimit-Remaining") != nil, "\(path)")
                #expect(answer.header("X-RateLimit-Reset").flatMap(Int.init) != nil, "\(path)")
            }
            // Refused answers carry them too: unknown key, malformed JSON, a request that breaks a rule.
            let unauthorized = try await client.braze("/users/track", json: ["events": [Make.event()]], key: "nope")
            #expect(unauthorized.status == 401)
            #expect(unauthorized.header("X-RateLimit-Limit") == "3000")
            let malformed = try await client.braze("/users/track", #"{"events": ["#)
            #expect(malformed.status == 400)
            #expect(malformed.header("X-RateLimit-Remaining") != nil)
            let tooMany = try await client.track(["events": Self.events(76)])
            #expect(tooMany.header("X-RateLimit-Reset") != nil)
        }
    }

    @Test func rateLimitDefaultsAreBrazesDocumentedOnes() {
        let configuration = BrazeSandboxConfiguration()
        #expect(configuration.rateLimit(for: .usersTrack) == BrazeRateLimit(requests: 3000, windowSeconds: 3))
        #expect(configuration.rateLimit(for: .usersIdentity) == BrazeRateLimit(requests: 20_000, windowSeconds: 60))
        #expect(configuration.rateLimit(for: .usersExport) == BrazeRateLimit(requests: 250, windowSeconds: 60))
        #expect(configuration.rateLimit(for: .subscription) == BrazeRateLimit(requests: 5_000, windowSeconds: 60))
        #expect(configuration.rateLimit(for: .catalogs) == BrazeRateLimit(requests: 50, windowSeconds: 60))
        #expect(configuration.rateLimit(for: .catalogItems) == BrazeRateLimit(requests: 16_000, windowSeconds: 60))
        // `rateLimit` replaces every default; overrides beat both; `[:]` defaults make the sandbox unlimited.
        var custom = BrazeSandboxConfiguration(rateLimit: BrazeRateLimit(requests: 5, windowSeconds: 1))
        custom.rateLimitOverrides[.usersExport] = BrazeRateLimit(requests: 1, windowSeconds: 9)
        #expect(custom.rateLimit(for: .usersTrack)?.requests == 5)
        #expect(custom.rateLimit(for: .usersExport)?.requests == 1)
        #expect(BrazeSandboxConfiguration(rateLimitDefaults: [:]).rateLimit(for: .usersTrack) == nil)
    }

    /// `_docs/_api/api_limits.md`: over the limit, 429; the sandbox adds Retry-After (seconds to the window's reset).
    @Test func apiLimits_overTheLimitIs429WithRetryAfter() async throws {
        let clock = TestClock()
        try await withSandbox({ $0.rateLimitOverrides[.usersTrack] = BrazeRateLimit(requests: 1, windowSeconds: 3); $0.now = { clock.now() } }) { client in
            #expect(try await client.track(["events": [Make.event()]]).status == 201)
            let limited = try await client.track(["events": [Make.event()]])
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "3")
            #expect(limited.header("X-RateLimit-Remaining") == "0")
        }
    }

    @Test func withoutDefaultsTheSandboxIsUnlimitedAndSendsNoHeaders() async throws {
        try await withSandbox({ $0.rateLimitDefaults = [:] }) { client in
            let answer = try await client.track(["events": [Make.event()]])
            #expect(answer.status == 201)
            #expect(answer.header("X-RateLimit-Limit") == nil)
        }
    }

    // MARK: Rule 3: body size

    /// `_docs/_api/endpoints/user_data.md`: "All API endpoints have a data payload limit of 4 MB. Attempts to post more data
    /// than 4 MB will fail with an HTTP 413 Request Entity Too Large." (4 MB taken as 4,000,000 bytes.)
    @Test func userData_bodyOver4MBIs413() async throws {
        try await withRouterSandbox { client in
            let event = Make.event().jsonString
            func body(size: Int) -> String {
                let head = #"{"events": [\#(event)], "padding": ""#
                return head + String(repeating: "x", count: size - head.utf8.count - 2) + #""}"#
            }
            let over = try await client.braze("/users/track", body(size: 4_000_001))
            #expect(over.status == 413)
            #expect(over.header("X-RateLimit-Limit") == "3000")
            #expect(try await client.users().isEmpty)
            let under = try await client.braze("/users/track", body(size: 4_000_000))
            #expect(under.status == 201)
        }
    }

    // MARK: Rules 4 and 5: property payloads and reserved names (also in UsersTrackValidationTests)

    /// `_docs/_api/objects_filters/event_object.md`: "an event property payload of up to 100 KB";
    /// `_docs/_api/objects_filters/purchase_object.md`: "up to 50 KB". Too large: that object errors, the rest is processed.
    @Test func eventObject_propertyPayloadsUpTo100KBForEventsAnd50KBForPurchases() async throws {
        try await withSandbox { client in
            @Sendable func lines(_ count: Int) -> JSONValue { ["lines": .array((0..<count).map { _ in .string(String(repeating: "y", count: 197)) })] }
            // 495 lines of 200 bytes: about 99 KB, accepted for an event, refused for a purchase.
            var purchase = Self.purchases(1).arrayValue?.first?.objectValue ?? [:]
            purchase["properties"] = lines(495)
            let answer = try await client.track([
                "events": [Make.event(properties: lines(495)), Make.event(properties: lines(505))],
                "purchases": [.object(purchase)],
            ])
            #expect(answer.status == 201)
            #expect(answer.body["events_processed"] == 1)
            #expect(answer.errors.map { [$0["input_array"], $0["index"]] } == [["events", 1], ["purchases", 0]])
            purchase["properties"] = lines(245)
            let small = try await client.track(["purchases": [.object(purchase)]])
            #expect(small.errors.isEmpty)
        }
    }

    /// `_docs/_api/objects_filters/event_object.md`, "Reserved keys": `time` and `event_name` "cannot be used as custom
    /// event properties"; per object (`post_user_track.md`: "any data not affected by an error … will still be processed").
    @Test(arguments: Validator.reservedEventPropertyNames)
    func eventObject_reservedPropertyNamesAreRefusedPerObject(name: String) async throws {
        try await withSandbox { client in
            let answer = try await client.track(["events": [
                Make.event("watched_trailer"),
                Make.event("rented_movie", properties: .object(["movie": "The Sad Egg", name: "x"])),
            ]])
            #expect(answer.status == 201)
            #expect(answer.message == "success")
            #expect(answer.body["events_processed"] == 1)
            #expect(answer.errors.map { [$0["input_array"], $0["index"]] } == [["events", 1]])
            #expect(answer.errors.first?["type"]?.stringValue == "event property name '\(name)' is reserved")
            // Purchases have no reserved property names.
            var purchase = Self.purchases(1).arrayValue?.first?.objectValue ?? [:]
            purchase["properties"] = .object([name: "x"])
            #expect(try await client.track(["purchases": [.object(purchase)]]).errors.isEmpty)
        }
    }

    // MARK: Rule 6: every object invalid

    /// Braze's recorded answer when no object of a request is valid (RudderStack `network.ts`, Segment's mock; the message
    /// is the one `errors.md` lists): 400, every object named.
    @Test func errors_requestWhoseEveryObjectIsInvalidIs400() async throws {
        try await withSandbox { client in
            let answer = try await client.track([
                "events": [["name": "no identifier", "time": .string(Make.time)], ["external_id": "u1", "name": "no time"]],
                "purchases": [["external_id": "u1", "product_id": "p", "currency": "USD", "price": 1, "quantity": "2", "time": .string(Make.time)]],
            ])
            #expect(answer.status == 400)
            #expect(answer.message == "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.")
            #expect(answer.errors.map { [$0["input_array"], $0["index"]] } == [["events", 0], ["events", 1], ["purchases", 0]])
            #expect(try await client.users().isEmpty)
            // Objects skipped by `_update_existing_only` are not invalid.
            let skipped = try await client.track(["attributes": [["external_id": "ghost", "first_name": "G", "_update_existing_only": true]]])
            #expect(skipped.status == 201)
        }
    }

    // MARK: Rule 7: country

    /// `_docs/_api/objects_filters/user_attributes_object.md`, `country`: ISO-3166-1 alpha-2; "Our API makes a best effort to
    /// map countries received in different formats. For example, "Australia" may map to "AU". However, if the input doesn't
    /// match …, the country value is set to NULL." Never an error.
    @Test(arguments: [("AU", "AU"), ("au", "AU"), ("Australia", "AU"), ("AUS", "AU"), ("United States", "US"), ("USA", "US"),
                      ("Atlantis", nil), ("XX", nil), ("", nil)] as [(String, String?)])
    func userAttributes_countryIsBestEffort(sent: String, stored: String?) async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "u1", "country": "FR"]]])
            let answer = try await client.track(["attributes": [["external_id": "u1", "first_name": "Jon", "country": .string(sent)]]])
            #expect(answer.status == 201)
            #expect(answer.errors.isEmpty)
            let attributes = try await client.user("u1")?["attributes"]
            #expect(attributes?["country"]?.stringValue == stored)
            #expect(attributes?["first_name"] == "Jon")
        }
    }

    // MARK: Rule 8: /users/delete

    /// `_docs/_api/endpoints/user_data/post_user_delete.md`: one of `external_ids`, `user_aliases`, `braze_ids`,
    /// `email_addresses`, `phone_numbers` per request, up to 50; `deleted` = "number of user IDs queued for deletion".
    @Test func postUserDelete_answersTheNumberOfIdentifiersQueued() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "a", "first_name": "A"], ["external_id": "b", "first_name": "B"]]])
            let answer = try await client.braze("/users/delete", json: ["external_ids": ["a", "a", "unknown", "b"]])
            #expect(answer.status == 201)
            #expect(answer.body["deleted"] == 4)
            #expect(answer.message == "success")
            #expect(try await client.users().isEmpty)
        }
    }

    @Test func postUserDelete_everyIdentifierKind() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [
                ["user_alias": Make.alias("anon", "rudder_id"), "_update_existing_only": false, "first_name": "Anon"],
                ["email": "e@example.com", "first_name": "E"],
                ["phone": "+12223334444", "first_name": "P"],
                ["external_id": "x", "first_name": "X"],
            ]])
            #expect(try await client.users().count == 4)
            let export = try await client.braze("/users/export/ids", json: ["external_ids": ["x"]])
            let brazeId = try #require(export.body["users"]?.arrayValue?.first?["braze_id"]?.stringValue)
            let bodies: [JSONValue] = [
                ["user_aliases": [Make.alias("anon", "rudder_id")]],
                ["email_addresses": [["email": "e@example.com", "prioritization": ["unidentified", "most_recently_updated"]]]],
                ["phone_numbers": [["phone": "+12223334444", "prioritization": ["most_recently_updated"]]]],
                ["braze_ids": .array([.string(brazeId)])],
            ]
            for body in bodies {
                let answer = try await client.braze("/users/delete", json: body)
                #expect(answer.status == 201, "\(body.jsonString)")
                #expect(answer.body["deleted"] == 1, "\(body.jsonString)")
            }
            #expect(try await client.users().isEmpty)
        }
    }

    @Test func postUserDelete_refusesMixedKindsMissingPrioritizationAndMoreThan50() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "a", "email": "a@example.com"]]])
            let refusals: [JSONValue] = [
                ["external_ids": ["a"], "braze_ids": ["b"]],
                ["email_addresses": ["a@example.com"]],
                ["email_addresses": [["email": "a@example.com"]]],
                ["email_addresses": [["email": "a@example.com", "prioritization": ["identified", "unidentified"]]]],
                ["external_ids": .array((0..<51).map { .string("id\($0)") })],
                [:],
            ]
            for body in refusals {
                #expect(try await client.braze("/users/delete", json: body).status == 400, "\(body.jsonString)")
            }
            #expect(try await client.user("a") != nil, "a refused delete deletes nobody")
        }
    }

    // MARK: Rule 9: /subscription/status/set with email and phone

    /// `_docs/_api/endpoints/subscription_groups/post_update_user_subscription_group_status.md`: "The endpoint only accepts
    /// the email or phone value, not both. If given both, you will receive this response: {"message":"Either an email
    /// address or a phone number should be provided, but not both."}"
    @Test func subscriptionStatusSet_emailAndPhoneTogetherAreRefused() async throws {
        try await withSandbox { client in
            let answer = try await client.braze("/subscription/status/set", json: [
                "subscription_group_id": "g", "subscription_state": "unsubscribed", "email": ["example1@email.com"], "phone": ["+12223334444"],
            ])
            #expect(answer.status == 400)
            #expect(answer.body == ["message": "Either an email address or a phone number should be provided, but not both."])
            #expect(try await client.users().isEmpty)
            let email = try await client.braze("/subscription/status/set", json: [
                "subscription_group_id": "g", "subscription_state": "unsubscribed", "external_id": "x", "email": ["example1@email.com"],
            ])
            #expect(email.status == 201)
        }
    }

    // MARK: Rule 10: data points

    /// `_docs/_user_guide/data/data_points.md`: "Custom events | All custom events" (recommended ecommerce.* included),
    /// "Purchases | All purchases", every attribute (country and language too when sent: "When manually collected").
    @Test func dataPoints_everyCustomEventPurchaseAndAttributeCounts() async throws {
        try await withSandbox { client in
            let answer = try await client.track([
                // first_name, country, language, custom: 4.
                "attributes": [["external_id": "u1", "first_name": "A", "country": "Australia", "language": "en", "tier": "gold"]],
                "events": [
                    Make.event("viewed"),
                    Make.event("ecommerce.product_viewed", properties: ["product_id": "p1", "product_name": "Shirt", "variant_id": "v1",
                                                                       "price": 10, "currency": "USD", "source": "shop"]),
                ],
                "purchases": Self.purchases(1),
            ])
            #expect(answer.errors.isEmpty)
            let points = try #require(try await client.sandbox("/_sandbox/stats").body["data_points"])
            #expect(points["attributes"] == 4)
            #expect(points["events"] == 2)
            #expect(points["ecommerce_events"] == 1)
            #expect(points["purchases"] == 1)
            #expect(points["total"] == 7)
            #expect(points["source"] == "_docs/_user_guide/data/data_points.md")
        }
    }

    /// `_docs/_user_guide/data/data_points.md`: not logged: "Deleting users", "Subscription state changes globally and
    /// around subscription groups"; non-billable: "User ID", "User alias", "Email subscribed", "Push subscribed",
    /// "Subscription group"; push tokens are "collected by default" and not counted.
    @Test func dataPoints_subscriptionsAliasesDeletionsAndPushTokensAreFree() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "u1", "first_name": "A"]]])
            let before = try #require(try await client.sandbox("/_sandbox/stats").body["data_points"]?["total"])
            #expect(before == 1)
            let track = try await client.track(["attributes": [
                ["external_id": "u1", "email_subscribe": "opted_in", "push_subscribe": "subscribed",
                 "subscription_groups": [["subscription_group_id": "g1", "subscription_state": "subscribed"]],
                 "push_tokens": [["app_id": "app", "token": "abcd"]]],
                // An alias-only profile with nothing else set.
                ["user_alias": Make.alias("anon", "rudder_id"), "_update_existing_only": false],
            ]])
            #expect(track.errors.isEmpty)
            #expect(try await client.braze("/subscription/status/set", json: ["subscription_group_id": "g2", "subscription_state": "subscribed", "external_id": ["u1"]]).status == 201)
            #expect(try await client.braze("/v2/subscription/status/set", json: ["subscription_groups": [["subscription_group_id": "g3", "subscription_state": "subscribed", "external_ids": ["u1"]]]]).status == 201)
            #expect(try await client.braze("/users/alias/new", json: ["user_aliases": [["external_id": "u1", "alias_name": "42", "alias_label": "shopify_customer_id"]]]).status == 201)
            #expect(try await client.braze("/users/delete", json: ["external_ids": ["u1"]]).status == 201)
            let points = try #require(try await client.sandbox("/_sandbox/stats").body["data_points"])
            #expect(points["total"] == 1, "nothing of this is billed")
            #expect(points["not_billed"]?["subscription_changes"] == 5)
            #expect(points["not_billed"]?["aliases_added"] == 1)
            #expect(points["not_billed"]?["users_deleted"] == 1)
            #expect(points["not_billed"]?["push_token_updates"] == 1)
        }
    }
}

import Foundation
import HummingbirdTesting
import Testing
@testable import BrazeSandbox

@Suite struct ProfileTests {
    @Test func sandboxUsersHasExactlyTheDocumentedShape() async throws {
        try await withSandbox { client in
            let answer = try await client.track([
                "attributes": [[
                    "external_id": "u1", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "+15043277269",
                    "home_city": "Paris", "country": "fr", "shopify_tags": "vip", "email_subscribe": "opted_in",
                    "subscription_groups": [["subscription_group_id": "g1", "subscription_state": "subscribed"]],
                ]],
                "events": [Make.event("ecommerce.product_viewed", properties: [
                    "product_id": "p1", "product_name": "Shirt", "variant_id": "v1", "price": 10, "currency": "USD", "source": "shop",
                ])],
                "purchases": [["external_id": "u1", "product_id": "p1", "currency": "EUR", "price": 12.5, "quantity": 2, "time": .string(Make.time), "properties": ["size": "L"]]],
            ])
            #expect(answer.status == 201)
            #expect(answer.body == ["message": "success", "attributes_processed": 1, "events_processed": 1, "purchases_processed": 1])
            let users = try await client.users()
            #expect(users.count == 1)
            let user = try #require(users.first?.objectValue)
            #expect(Set(user.keys) == ["external_id", "user_aliases", "attributes", "events", "purchases", "subscriptions"])
            #expect(user["external_id"] == "u1")
            #expect(user["user_aliases"] == [])
            #expect(user["attributes"] == [
                "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "+15043277269", "home_city": "Paris",
                "country": "FR", "shopify_tags": "vip",
            ])
            let event = try #require(user["events"]?.arrayValue?.first?.objectValue)
            #expect(Set(event.keys) == ["name", "time", "properties"])
            #expect(event["name"] == "ecommerce.product_viewed")
            #expect(event["time"]?.stringValue == Make.time)
            #expect(event["properties"]?["price"] == 10)
            #expect(user["purchases"] == [[
                "product_id": "p1", "currency": "EUR", "price": 12.5, "quantity": 2, "time": .string(Make.time), "properties": ["size": "L"],
            ]])
            #expect(user["subscriptions"] == ["email_subscribe": "opted_in", "push_subscribe": .null, "subscription_groups": ["g1": "subscribed"]])
            #expect(try await client.user("u1") == users.first)
        }
    }

    @Test func unknownUserIs404JSON() async throws {
        try await withSandbox { client in
            let answer = try await client.sandbox("/_sandbox/users/nobody")
            #expect(answer.status == 404)
            #expect(answer.body["external_id"] == "nobody")
        }
    }

    @Test func partialSuccessProcessesTheValidObjects() async throws {
        try await withSandbox { client in
            let answer = try await client.track([
                "attributes": [["external_id": "a", "first_name": "A"], ["first_name": "nobody"], ["external_id": "b", "first_name": "B"]],
                "events": [Make.event(id: "a"), ["external_id": "a", "name": "bad"], Make.event("second", id: "b")],
            ])
            #expect(answer.status == 201)
            #expect(answer.message == "success")
            #expect(answer.body["attributes_processed"] == 2)
            #expect(answer.body["events_processed"] == 2)
            #expect(answer.errors.map { [$0["input_array"], $0["index"]] } == [["attributes", 1], ["events", 1]])
            #expect(try await client.user("a")?["events"]?.arrayValue?.count == 1)
            #expect(try await client.user("b")?["attributes"]?["first_name"] == "B")
            #expect(try await client.users().count == 2)
        }
    }

    @Test func aliasOnlyProfileNeedsUpdateExistingOnlyFalse() async throws {
        try await withSandbox { client in
            let alias = Make.alias("tok1", "shopify_cart_token")
            // Omitted: no profile. true: no profile. Events on an unknown alias: dropped.
            _ = try await client.track(["attributes": [["user_alias": alias, "first_name": "X"]]])
            _ = try await client.track(["attributes": [["user_alias": alias, "first_name": "X", "_update_existing_only": true]]])
            _ = try await client.track(["events": [["user_alias": alias, "name": "e", "time": .string(Make.time)]]])
            #expect(try await client.users().isEmpty)
            let answer = try await client.track(["attributes": [["user_alias": alias, "first_name": "X", "_update_existing_only": false]]])
            #expect(answer.body["attributes_processed"] == 1)
            // Now it exists, so later objects by alias update it.
            _ = try await client.track(["events": [["user_alias": alias, "name": "e", "time": .string(Make.time)]]])
            let users = try await client.users()
            #expect(users.count == 1)
            #expect(users.first?["external_id"] == .null)
            #expect(users.first?["user_aliases"] == [alias])
            #expect(users.first?["attributes"] == ["first_name": "X"])
            #expect(users.first?["events"]?.arrayValue?.count == 1)
        }
    }

    @Test func updateExistingOnlyTrueSkipsUnknownExternalIds() async throws {
        try await withSandbox { client in
            let answer = try await client.track(["attributes": [["external_id": "ghost", "first_name": "G", "_update_existing_only": true]]])
            #expect(answer.status == 201)
            #expect(try await client.user("ghost") == nil)
            _ = try await client.track(["attributes": [["external_id": "ghost", "first_name": "G"]]])
            _ = try await client.track(["attributes": [["external_id": "ghost", "last_name": "H", "_update_existing_only": true]]])
            #expect(try await client.user("ghost")?["attributes"] == ["first_name": "G", "last_name": "H"])
        }
    }

    @Test func emailIdentifiesAndCreatesEmailOnlyProfiles() async throws {
        try await withSandbox { client in
            _ = try await client.track(["events": [["email": "x@example.com", "name": "e", "time": .string(Make.time)]]])
            var users = try await client.users()
            #expect(users.count == 1)
            #expect(users.first?["external_id"] == .null)
            #expect(users.first?["attributes"] == ["email": "x@example.com"])
            // Email wins over phone when both are given: phone is then an attribute update.
            _ = try await client.track(["attributes": [["email": "X@example.com", "phone": "+33123456789", "first_name": "X"]]])
            users = try await client.users()
            #expect(users.count == 1)
            #expect(users.first?["attributes"]?["phone"] == "+33123456789")
        }
    }

    @Test func customAttributeOperations() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "u1", "tags": ["a", "b"], "count": 1, "gone": "x", "profile": ["size": "M", "fit": ["cut": "slim"]]]]])
            _ = try await client.track(["attributes": [["external_id": "u1", "tags": ["add": ["c"], "remove": ["a"]], "count": ["inc": 2], "gone": .null]]])
            let attributes = try #require(try await client.user("u1")?["attributes"])
            #expect(attributes == ["tags": ["b", "c"], "count": 3, "profile": ["size": "M", "fit": ["cut": "slim"]]])
        }
    }

    @Test func identifyFoldsTheAliasProfileIntoTheExternalIdProfile() async throws {
        try await withSandbox { client in
            let alias = Make.alias("tok1", "shopify_cart_token")
            _ = try await client.track(["attributes": [["user_alias": alias, "_update_existing_only": false, "first_name": "Anon", "home_city": "Lyon"]]])
            _ = try await client.track(["events": [["user_alias": alias, "name": "anon_event", "time": "2025-01-01T00:00:00Z"]]])
            _ = try await client.track(["attributes": [["external_id": "cust1", "first_name": "Known"]], "events": [Make.event("known_event", id: "cust1")]])
            #expect(try await client.users().count == 2)

            let answer = try await client.braze("/users/identify", json: ["aliases_to_identify": [["external_id": "cust1", "user_alias": alias]], "merge_behavior": "merge"])
            #expect(answer.status == 201)
            #expect(answer.body["aliases_processed"] == 1)
            let users = try await client.users()
            #expect(users.count == 1)
            let user = try #require(users.first)
            #expect(user["external_id"] == "cust1")
            #expect(user["user_aliases"] == [alias])
            // The identified profile's own value wins; what it lacked comes across.
            #expect(user["attributes"] == ["first_name": "Known", "home_city": "Lyon"])
            #expect(user["events"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["anon_event", "known_event"])
        }
    }

    @Test func identifyWithoutAnExternalIdProfileJustIdentifiesTheAliasProfile() async throws {
        try await withSandbox { client in
            let alias = Make.alias("tok2", "shopify_cart_token")
            _ = try await client.track(["attributes": [["user_alias": alias, "_update_existing_only": false, "first_name": "Anon"]]])
            _ = try await client.braze("/users/identify", json: ["aliases_to_identify": [["external_id": "new1", "user_alias": alias]]])
            let user = try #require(try await client.user("new1"))
            #expect(user["user_aliases"] == [alias])
            #expect(try await client.users().count == 1)
        }
    }

    @Test func identifyDoesNotCombineWhenTheLabelIsTaken() async throws {
        try await withSandbox { client in
            let mine = Make.alias("1", "shopify_customer_id")
            let other = Make.alias("2", "shopify_customer_id")
            _ = try await client.braze("/users/alias/new", json: ["user_aliases": [["alias_name": "2", "alias_label": "shopify_customer_id"]]])
            _ = try await client.track(["attributes": [["external_id": "c1", "first_name": "C"]]])
            _ = try await client.braze("/users/alias/new", json: ["user_aliases": [["external_id": "c1", "alias_name": "1", "alias_label": "shopify_customer_id"]]])
            _ = try await client.braze("/users/identify", json: ["aliases_to_identify": [["external_id": "c1", "user_alias": other]]])
            #expect(try await client.users().count == 2)
            #expect(try await client.user("c1")?["user_aliases"] == [mine])
        }
    }

    @Test func identifyValidation() async throws {
        try await withSandbox { client in
            #expect(try await client.braze("/users/identify", json: [:]).status == 400)
            #expect(try await client.braze("/users/identify", json: ["aliases_to_identify": "x"]).status == 400)
            let many: JSONValue = .array((0..<51).map { ["external_id": .string("e\($0)"), "user_alias": Make.alias("\($0)", "l")] })
            let tooMany = try await client.braze("/users/identify", json: ["aliases_to_identify": many])
            #expect(tooMany.status == 400)
            #expect(tooMany.message == "The max number of external_ids and aliases per request was exceeded")
            let bad = try await client.braze("/users/identify", json: ["aliases_to_identify": [["external_id": "x"]], "merge_behavior": "merge"])
            #expect(bad.status == 201)
            #expect(bad.errors.first?["input_array"] == "aliases_to_identify")
            #expect(try await client.braze("/users/identify", json: ["aliases_to_identify": [["external_id": "x", "user_alias": Make.alias("a", "b")]], "merge_behavior": "sometimes"]).status == 400)
        }
    }

    @Test func aliasNewAddsToExternalIdOrCreatesAliasOnly() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "c1", "first_name": "C"]]])
            let answer = try await client.braze("/users/alias/new", json: ["user_aliases": [
                ["external_id": "c1", "alias_name": "42", "alias_label": "shopify_customer_id"],
                ["alias_name": "tok", "alias_label": "shopify_cart_token"],
                ["alias_name": "", "alias_label": "x"],
                ["external_id": "c1", "alias_name": "43", "alias_label": "shopify_customer_id"],
            ]])
            #expect(answer.status == 201)
            #expect(answer.body["aliases_processed"] == 2)
            #expect(answer.errors.compactMap { $0["index"]?.intValue } == [2, 3])
            #expect(try await client.user("c1")?["user_aliases"] == [Make.alias("42", "shopify_customer_id")])
            let users = try await client.users()
            #expect(users.count == 2)
            #expect(users.contains { $0["external_id"] == .null && $0["user_aliases"] == [Make.alias("tok", "shopify_cart_token")] })
            #expect(try await client.braze("/users/alias/new", json: ["user_aliases": "x"]).status == 400)
        }
    }

    @Test func mergeFoldsIntoTheKeptProfileAndDeletesTheOther() async throws {
        try await withSandbox { client in
            _ = try await client.track([
                "attributes": [["external_id": "old", "first_name": "Old", "home_city": "Nice"], ["external_id": "new", "first_name": "New"]],
                "events": [Make.event("a", id: "old"), Make.event("b", id: "new")],
                "purchases": [["external_id": "old", "product_id": "p", "currency": "USD", "price": 1, "time": .string(Make.time)]],
            ])
            let answer = try await client.braze("/users/merge", json: ["merge_updates": [["identifier_to_merge": ["external_id": "old"], "identifier_to_keep": ["external_id": "new"]]]])
            #expect(answer.status == 202)
            #expect(answer.body == ["message": "success"])
            #expect(try await client.user("old") == nil)
            let kept = try #require(try await client.user("new"))
            #expect(kept["attributes"] == ["first_name": "New", "home_city": "Nice"])
            #expect(kept["events"]?.arrayValue?.count == 2)
            #expect(kept["purchases"]?.arrayValue?.count == 1)
        }
    }

    @Test func mergeValidation() async throws {
        try await withSandbox { client in
            let notArray = try await client.braze("/users/merge", json: ["merge_updates": "x"])
            #expect(notArray.status == 400)
            #expect(notArray.message == "'merge_updates' must be an array of objects")
            let extraKey = try await client.braze("/users/merge", json: ["merge_updates": [["identifier_to_merge": ["external_id": "a"], "identifier_to_keep": ["external_id": "b"], "x": 1]]])
            #expect(extraKey.message == "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'")
            let badIdentifier = try await client.braze("/users/merge", json: ["merge_updates": [["identifier_to_merge": ["external_id": 5], "identifier_to_keep": ["external_id": "b"]]]])
            #expect(badIdentifier.status == 400)
            #expect(badIdentifier.message == UsersMergeEndpoint.badIdentifier)
            let pair: JSONValue = ["identifier_to_merge": ["external_id": "a"], "identifier_to_keep": ["external_id": "b"]]
            let tooMany = try await client.braze("/users/merge", json: ["merge_updates": .array(Array(repeating: pair, count: 51))])
            #expect(tooMany.message == "a single request may not contain more than 50 merge updates")
        }
    }

    @Test func deleteRemovesProfilesByEachIdentifierKind() async throws {
        try await withSandbox { client in
            let alias = Make.alias("t", "l")
            _ = try await client.track(["attributes": [
                ["external_id": "a", "first_name": "A"], ["external_id": "b", "first_name": "B"],
                ["user_alias": alias, "_update_existing_only": false, "first_name": "C"],
            ]])
            // post_user_delete.md: one identifier kind per request; `deleted` counts the identifiers queued, known or not.
            #expect(try await client.braze("/users/delete", json: ["external_ids": ["a"], "user_aliases": [alias]]).status == 400)
            let answer = try await client.braze("/users/delete", json: ["external_ids": ["a", "missing"]])
            #expect(answer.status == 201)
            #expect(answer.body == ["deleted": 2, "message": "success"])
            let byAlias = try await client.braze("/users/delete", json: ["user_aliases": [alias]])
            #expect(byAlias.body == ["deleted": 1, "message": "success"])
            let users = try await client.users()
            #expect(users.compactMap { $0["external_id"]?.stringValue } == ["b"])
            #expect(try await client.braze("/users/delete", json: [:]).status == 400)
            #expect(try await client.braze("/users/delete", json: ["external_ids": [1, 2]]).status == 400)
            let many = try await client.braze("/users/delete", json: ["external_ids": .array((0..<51).map { .string("x\($0)") })])
            #expect(many.status == 400)
            #expect(many.message == "The max number of ids per request was exceeded")
        }
    }

    @Test func exportIdsReturnsBrazeShapedUsers() async throws {
        try await withSandbox { client in
            _ = try await client.track([
                "attributes": [["external_id": "a", "first_name": "A", "vip": true]],
                "events": [Make.event("e", id: "a", time: "2025-01-01T00:00:00Z"), Make.event("e", id: "a", time: "2025-02-01T00:00:00Z")],
            ])
            let answer = try await client.braze("/users/export/ids", json: ["external_ids": ["a", "zzz"]])
            #expect(answer.status == 201)
            #expect(answer.body["invalid_user_ids"] == ["zzz"])
            let user = try #require(answer.body["users"]?.arrayValue?.first)
            #expect(user["external_id"] == "a")
            #expect(user["first_name"] == "A")
            #expect(user["custom_attributes"] == ["vip": true])
            #expect(user["custom_events"] == [["name": "e", "first": "2025-01-01T00:00:00.000Z", "last": "2025-02-01T00:00:00.000Z", "count": 2]])
            let filtered = try await client.braze("/users/export/ids", json: ["external_ids": ["a"], "fields_to_export": ["first_name"]])
            #expect(filtered.body["users"] == [["first_name": "A"]])
            #expect(try await client.braze("/users/export/ids", json: [:]).status == 400)
        }
    }

    @Test func subscriptionStatusSetV1AndV2() async throws {
        try await withSandbox { client in
            _ = try await client.track(["attributes": [["external_id": "a", "email": "a@example.com"]]])
            let v1 = try await client.braze("/subscription/status/set", json: ["subscription_group_id": "g1", "subscription_state": "subscribed", "external_id": ["a", "unknown"]])
            #expect(v1.status == 201)
            #expect(try await client.user("a")?["subscriptions"]?["subscription_groups"] == ["g1": "subscribed"])
            #expect(try await client.user("unknown") == nil)
            let v2 = try await client.braze("/v2/subscription/status/set", json: ["subscription_groups": [
                ["subscription_group_id": "g1", "subscription_state": "unsubscribed", "emails": ["a@example.com", "new@example.com"]],
            ]])
            #expect(v2.status == 201)
            #expect(try await client.user("a")?["subscriptions"]?["subscription_groups"] == ["g1": "unsubscribed"])
            // An unknown email gets an email-only profile.
            #expect(try await client.users().contains { $0["attributes"]?["email"] == "new@example.com" && $0["subscriptions"]?["subscription_groups"] == ["g1": "unsubscribed"] })
            let bad = try await client.braze("/subscription/status/set", json: ["subscription_group_id": "g1", "subscription_state": "maybe", "external_id": ["a"]])
            #expect(bad.status == 400)
            #expect(bad.message == "'subscription_state' must be 'subscribed' or 'unsubscribed'")
            #expect(try await client.braze("/subscription/status/set", json: ["subscription_group_id": "g1", "subscription_state": "subscribed"]).status == 400)
        }
    }
}

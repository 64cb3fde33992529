/// The Braze rate-limit buckets: endpoints in one group share a budget (Braze `api_limits.md`).
public enum BrazeRateLimitGroup: String, Sendable, Hashable, CaseIterable {
    case usersTrack = "users.track"
    /// /users/identify, /users/alias/new, /users/merge, /users/delete share 20,000/min.
    case usersIdentity = "users.identity"
    case usersExport = "users.export.ids"
    case subscription = "subscription.status.set"
    case catalogs = "catalogs"
    case catalogItems = "catalogs.items"
}

/// A Braze REST endpoint the sandbox serves.
public enum BrazeEndpoint: String, Sendable, Hashable, CaseIterable {
    case usersTrack, usersIdentify, usersAliasNew, usersMerge, usersDelete, usersExportIds
    case subscriptionStatusSet, subscriptionStatusSetV2
    case catalogsCreate, catalogItemsCreate, catalogItemsEdit, catalogItemsReplace, catalogItemsDelete

    /// API key permission Braze requires.
    public var permission: String {
        switch self {
        case .usersTrack: "users.track"
        case .usersIdentify: "users.identify"
        case .usersAliasNew: "users.alias.new"
        case .usersMerge: "users.merge"
        case .usersDelete: "users.delete"
        case .usersExportIds: "users.export.ids"
        case .subscriptionStatusSet, .subscriptionStatusSetV2: "subscription.status.set"
        case .catalogsCreate: "catalogs.create"
        case .catalogItemsCreate: "catalogs.add_items"
        case .catalogItemsEdit: "catalogs.update_items"
        case .catalogItemsReplace: "catalogs.replace_items"
        case .catalogItemsDelete: "catalogs.delete_items"
        }
    }

    public var rateLimitGroup: BrazeRateLimitGroup {
        switch self {
        case .usersTrack: .usersTrack
        case .usersIdentify, .usersAliasNew, .usersMerge, .usersDelete: .usersIdentity
        case .usersExportIds: .usersExport
        case .subscriptionStatusSet, .subscriptionStatusSetV2: .subscription
        case .catalogsCreate: .catalogs
        case .catalogItemsCreate, .catalogItemsEdit, .catalogItemsReplace, .catalogItemsDelete: .catalogItems
        }
    }

    public var method: String {
        switch self {
        case .catalogItemsEdit: "PATCH"
        case .catalogItemsReplace: "PUT"
        case .catalogItemsDelete: "DELETE"
        default: "POST"
        }
    }

    /// Route template, also the key used in `/_sandbox/stats`.
    public var path: String {
        switch self {
        case .usersTrack: "/users/track"
        case .usersIdentify: "/users/identify"
        case .usersAliasNew: "/users/alias/new"
        case .usersMerge: "/users/merge"
        case .usersDelete: "/users/delete"
        case .usersExportIds: "/users/export/ids"
        case .subscriptionStatusSet: "/subscription/status/set"
        case .subscriptionStatusSetV2: "/v2/subscription/status/set"
        case .catalogsCreate: "/catalogs"
        case .catalogItemsCreate, .catalogItemsEdit, .catalogItemsReplace, .catalogItemsDelete: "/catalogs/{catalog_name}/items"
        }
    }

    public var statsKey: String { "\(method) \(path)" }
}

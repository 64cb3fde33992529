import Foundation

/// How a request object names its user (exactly one per object).
enum UserIdentifier: Sendable, Equatable {
    case externalId(String)
    case alias(UserAlias)
    case brazeId(String)
    case email(String)
    case phone(String)
}

/// All profiles, with the lookups Braze does by each identifier. A value type owned by the state actor.
struct ProfileStore: Sendable {
    private(set) var profiles: [Profile] = []
    private var nextId = 1

    func index(of identifier: UserIdentifier) -> Int? {
        switch identifier {
        case .externalId(let id): return profiles.firstIndex { $0.externalId == id }
        case .alias(let alias): return profiles.firstIndex { $0.aliases.contains(alias) }
        case .brazeId(let id): return profiles.firstIndex { $0.brazeId == id }
        case .email(let email):
            return preferred(profiles.indices.filter { profiles[$0].email?.lowercased() == email.lowercased() })
        case .phone(let phone):
            let wanted = Self.normalizedPhone(phone)
            return preferred(profiles.indices.filter { profiles[$0].phone.map(Self.normalizedPhone) == wanted })
        }
    }

    /// Braze: with several profiles sharing an email/phone, an identified one wins, then the most recently updated.
    private func preferred(_ candidates: [Int]) -> Int? {
        candidates.max { a, b in
            let ia = profiles[a].externalId != nil, ib = profiles[b].externalId != nil
            if ia != ib { return !ia }
            return profiles[a].updatedAt < profiles[b].updatedAt
        }
    }

    static func normalizedPhone(_ phone: String) -> String {
        phone.filter { $0.isNumber || $0 == "+" }
    }

    /// Creates the profile an identifier describes (external id, alias-only, email-only or phone-only).
    mutating func create(for identifier: UserIdentifier, now: Date) -> Int? {
        var profile = Profile(brazeId: String(format: "sbx%021d", nextId), externalId: nil, createdAt: now, updatedAt: now)
        switch identifier {
        case .externalId(let id): profile.externalId = id
        case .alias(let alias): profile.aliases = [alias]
        case .email(let email): profile.attributes["email"] = .string(email)
        case .phone(let phone): profile.attributes["phone"] = .string(phone)
        case .brazeId: return nil  // Braze ids are minted by Braze, never by the caller.
        }
        nextId += 1
        profiles.append(profile)
        return profiles.count - 1
    }

    mutating func update(_ index: Int, now: Date, _ body: (inout Profile) -> Void) {
        body(&profiles[index])
        profiles[index].updatedAt = now
    }

    subscript(index: Int) -> Profile { profiles[index] }

    /// Merges `source` into `target` and removes `source`.
    mutating func fold(_ source: Int, into target: Int, carryAliases: Bool, now: Date) {
        guard source != target else { return }
        let donor = profiles[source]
        profiles[target].absorb(donor, carryAliases: carryAliases, now: now)
        profiles.remove(at: source)
    }

    mutating func remove(at index: Int) {
        profiles.remove(at: index)
    }

    mutating func removeAll() {
        profiles.removeAll()
        nextId = 1
    }
}

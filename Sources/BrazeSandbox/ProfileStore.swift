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

extension ProfileStore {
    /// The one profile an email/phone names under a Braze `prioritization` (`identified` / `unidentified` /
    /// `most_recently_updated`, applied in order); nil when none matches or more than one still does
    /// ("deleting users will not occur if more than one user matches a prioritization").
    func prioritizedIndex(of identifier: UserIdentifier, prioritization: [String]) -> Int? {
        var candidates: [Int]
        switch identifier {
        case .email(let email):
            candidates = profiles.indices.filter { profiles[$0].email?.lowercased() == email.lowercased() }
        case .phone(let phone):
            let wanted = Self.normalizedPhone(phone)
            candidates = profiles.indices.filter { profiles[$0].phone.map(Self.normalizedPhone) == wanted }
        default:
            return index(of: identifier)
        }
        for rule in prioritization where candidates.count > 1 {
            switch rule {
            case "identified":
                let narrowed = candidates.filter { profiles[$0].externalId != nil }
                if !narrowed.isEmpty { candidates = narrowed }
            case "unidentified":
                let narrowed = candidates.filter { profiles[$0].externalId == nil }
                if !narrowed.isEmpty { candidates = narrowed }
            case "most_recently_updated":
                if let latest = candidates.max(by: { profiles[$0].updatedAt < profiles[$1].updatedAt }) { candidates = [latest] }
            default:
                break
            }
        }
        return candidates.count == 1 ? candidates.first : nil
    }
}

import PostgresNIO

/// A claim on one shop's event log: the instance that holds it is the only one processing the shop.
public struct ShopLease: Sendable, Equatable {
    public var shop: String
    public var owner: String
    /// Grows every time the shop changes hands; a transaction made under an older number is refused.
    public var fence: Int64
    /// Until when the lease holds, on the database's clock (epoch milliseconds).
    public var until: EpochMillis
}

/// The holder of a lease lost it (it expired and another instance took the shop) before committing.
public struct ShopLeaseLost: Error, Sendable, Equatable {
    public let shop: String
    public let fence: Int64
}

/// Per-shop processing leases on PostgreSQL, with fencing.
///
/// Times are the database's clock, never an instance's, so clock skew between machines cannot make
/// two instances believe they hold the same shop. A holder renews well before `ttl` runs out; when
/// it dies, another instance takes the shop once the lease has run out, with the next fence number.
/// Each processing transaction first locks the lease row `FOR SHARE` and checks owner and fence: a
/// holder that lost the shop cannot commit, and a taker waits for the holder's last transaction.
public struct PostgresShopLeases: Sendable {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) { self.database = database }

    /// The database's clock, in epoch milliseconds.
    static let databaseNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    /// Takes `shop` for `owner` (or renews it) for `ttl` when it is free, expired or already ours;
    /// nil when another instance holds it.
    public func acquire(shop: String, owner: String, ttl: Duration) async throws -> ShopLease? {
        let ttlMillis = ttl.inMillis
        let rows = try await database.rows("""
            INSERT INTO processor_leases AS l (shop, owner, lease_until, fence)
            VALUES (\(shop), \(owner), \(unescaped: Self.databaseNow) + \(ttlMillis), 1)
            ON CONFLICT (shop) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until,
                fence = CASE WHEN l.owner = excluded.owner AND l.lease_until > \(unescaped: Self.databaseNow) THEN l.fence ELSE l.fence + 1 END
            WHERE l.owner = excluded.owner OR l.lease_until <= \(unescaped: Self.databaseNow)
            RETURNING owner, fence, lease_until
            """)
        guard let row = rows.first else { return nil }
        let (rowOwner, fence, until) = try row.decode((String, Int64, Int64).self)
        return ShopLease(shop: shop, owner: rowOwner, fence: fence, until: until)
    }

    /// Records that `owner` is alive for `ttl` and returns how many instances are (itself included).
    public func heartbeat(owner: String, ttl: Duration) async throws -> Int {
        let rows = try await database.rows("""
            WITH beat AS (
                INSERT INTO processor_instances (instance, seen_until) VALUES (\(owner), \(unescaped: Self.databaseNow) + \(ttl.inMillis))
                ON CONFLICT (instance) DO UPDATE SET seen_until = excluded.seen_until RETURNING instance
            )
            SELECT 1 + (SELECT COUNT(*) FROM processor_instances WHERE seen_until > \(unescaped: Self.databaseNow) AND instance <> \(owner))
            """)
        return Int(try rows.first?.decode(Int64.self) ?? 1)
    }

    /// Gives the shop up at once (a graceful stop), so another instance need not wait for the lease to run out.
    public func release(_ lease: ShopLease) async throws {
        _ = try await database.rows(Self.releaseQuery(lease))
    }

    /// Ends `lease` now (only if it is still that lease): the one statement every way of giving a shop up runs.
    static func releaseQuery(_ lease: ShopLease) -> PostgresQuery {
        "UPDATE processor_leases SET lease_until = 0 WHERE shop = \(lease.shop) AND owner = \(lease.owner) AND fence = \(lease.fence)"
    }

    /// Runs `body` in one transaction that commits only while `lease` still holds (see the type's note).
    func fenced<T: Sendable>(_ lease: ShopLease, _ body: @escaping @Sendable (PostgresBlockingConnection) throws -> T) async throws -> T {
        try await database.blockingTransaction { connection in
            let held = try connection.rows("""
                SELECT 1 FROM processor_leases WHERE shop = \(lease.shop) AND owner = \(lease.owner) AND fence = \(lease.fence)
                AND lease_until > \(unescaped: Self.databaseNow) FOR SHARE
                """)
            guard !held.isEmpty else { throw ShopLeaseLost(shop: lease.shop, fence: lease.fence) }
            return try body(connection)
        }
    }
}

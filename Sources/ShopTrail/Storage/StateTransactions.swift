import GRDB

/// One transaction over the processor's state (visitors, customers, carts, timers, the outbox): how
/// code outside `Storage/` reads and changes it, without a line of SQL or a database handle.
public protocol StateTransactions: Sendable {
    /// Runs `body` in one write transaction; everything it does commits together or not at all.
    func write<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T
    /// Runs `body` on a consistent snapshot (a write from `body` fails).
    func read<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T
}

extension SQLiteDatabase: StateTransactions {
    public func write<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T {
        try await backgroundWrite(.background(milliseconds: 10)) { db in try body(SQLiteProcessorState(db, outboxFilled: self.outboxFilled)) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any ProcessorState) throws -> T) async throws -> T {
        try await pool.read { db in try body(SQLiteProcessorState(db, outboxFilled: self.outboxFilled)) }
    }
}

/// Where Perimeter keeps its state, as small protocols (keys, admin tokens, the call log, sealed
/// secrets, audit log, findings, alerts) with an in-memory implementation beside them, and the
/// budget ledger of one instance with the BudgetBook over it. Backends live in their own modules
/// (PerimeterSQLite today); every backend runs the same conformance suite.
enum PerimeterStorageModule {}

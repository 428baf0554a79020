/// Where Perimeter keeps its state: virtual keys, admin tokens and the call log. Each concern is a
/// small protocol with an in-memory implementation for tests and a SQLite one (GRDB, WAL) for the
/// embedded default; every backend runs the same conformance suite.
enum PerimeterStorageModule {}

/// The embedded backend: every store protocol of PerimeterStorage on one SQLite database through
/// GRDB, in WAL mode, with the audit log made append-only by triggers.
enum PerimeterSQLiteModule {}

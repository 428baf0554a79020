/// The shared backend, for several gateway instances: every store protocol of PerimeterStorage on
/// PostgreSQL through PostgresNIO's pooled client, with migrations under an advisory lock and the
/// audit log made append-only by triggers.
enum PerimeterPostgresModule {}

/// The admin API's request and response bodies (keys, budgets, spend, rotation schedules, limit
/// patches and their bounds), shared by the server and the CLI, so the CLI's client commands decode
/// them without linking the server.
enum PerimeterAdminModelsModule {}

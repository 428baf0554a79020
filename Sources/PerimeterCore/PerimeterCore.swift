/// The domain of Perimeter with no I/O: virtual keys and their format, secrets that never print,
/// money, usage and pricing, call records, and the gateway's error vocabulary.
///
/// Everything here is a value or a pure function so it can be tested without sockets, files or clocks.
enum PerimeterCoreModule {}

/// The gateway application: configuration, the proxy routes for OpenAI and Anthropic clients, the
/// admin API, and the long-lived services (call-log writer, upstream client), composed by
/// ``buildApplication(configuration:logger:)``.
enum PerimeterGatewayModule {}

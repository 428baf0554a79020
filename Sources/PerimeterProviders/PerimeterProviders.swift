/// The providers' wire formats, without I/O: what a request asks for (model, stream, tools, token
/// limits), how to make a streamed OpenAI call report its usage, and how to read usage out of a JSON
/// body or an SSE stream as it passes, chunk by chunk. Also the demo provider's deterministic answers.
enum PerimeterProvidersModule {}

import Testing

@testable import PerimeterProviders

@Suite struct SSEFramerTests {
    @Test(arguments: [1, 2, 3, 10])
    func framesEventsWhateverTheChunking(chunkSize: Int) {
        let stream = Array("event: a\ndata: 1\n\ndata: 2\r\n\r\n: comment\ndata: x\ndata: y\n\npartial".utf8)
        var framer = SSEFramer()
        var events: [String] = []
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            framer.append(stream[start..<min(start + chunkSize, stream.count)]) { events.append(String(decoding: $0, as: UTF8.self)) }
        }
        #expect(events == ["event: a\ndata: 1\n\n", "data: 2\r\n\r\n", ": comment\ndata: x\ndata: y\n\n"])
        #expect(framer.drain() == Array("partial".utf8))
    }

    @Test func parsesFields() {
        let event = SSEEvent(parsing: Array("event: message_delta\r\ndata: {\"a\":\ndata:1}\n: ignored\n\n".utf8)[...])
        #expect(event.name == "message_delta")
        #expect(String(decoding: event.data, as: UTF8.self) == "{\"a\":\n1}")
    }
}

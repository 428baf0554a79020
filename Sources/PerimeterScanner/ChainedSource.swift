/// Several sources one after the other.
public struct ChainedSource: ScanSource {
    private var sources: [any ScanSource]

    public init(_ sources: [any ScanSource]) {
        self.sources = sources
    }

    public mutating func next() throws -> ScanItem? {
        while !sources.isEmpty {
            if let item = try sources[0].next() { return item }
            sources.removeFirst()
        }
        return nil
    }
}

import Foundation

/// The demo provider's parse of a request; metering uses ``ScannedObject`` instead.
func jsonObject(_ bytes: some Collection<UInt8>) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any]
}

extension Collection<UInt8> {
    /// True when `needle` occurs in these bytes; a cheap test before a JSON parse.
    func containsBytes(_ needle: some Collection<UInt8>) -> Bool {
        guard let first = needle.first, needle.count <= count else { return false }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].starts(with: needle) { return true }
            index = self.index(after: found)
        }
        return false
    }
}

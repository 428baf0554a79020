/// A JSON object read with ``JSONScanner``: its members located, values decoded only when asked.
/// Usage is a handful of integers inside bodies that may be large; this reads them without building
/// a dictionary of the whole body.
struct ScannedObject {
    let bytes: [UInt8]
    let members: [String: JSONScanner.Member]

    init?(_ source: some Collection<UInt8>) {
        let bytes = Array(source)
        guard let members = try? JSONScanner.topLevelMembers(of: bytes) else { return nil }
        self.bytes = bytes
        self.members = members
    }

    func int(_ name: String) -> Int? {
        guard case .number(let value?)? = members[name]?.kind, value.isFinite, value >= 0, value < 1e15 else { return nil }
        return Int(value)
    }

    func object(_ name: String) -> ScannedObject? {
        guard let member = members[name], case .object = member.kind else { return nil }
        return ScannedObject(bytes[member.range])
    }

    func isEmptyArray(_ name: String) -> Bool {
        if case .array(isEmpty: true)? = members[name]?.kind { return true }
        return false
    }
}

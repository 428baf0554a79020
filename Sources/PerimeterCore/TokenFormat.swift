/// The format of Perimeter's own credentials, modelled on GitHub's tokens.
///
/// A virtual key reads `prm_<env>_<32 random><6 checksum>`: a fixed prefix a scanner can anchor on,
/// the environment in plain sight, 190 bits of base62 randomness, and a CRC-32 of everything before it
/// in six base62 characters, so a scanner validates a candidate offline and reports no false positives.
/// An admin token reads `prmadm_<32 random><6 checksum>`, with the same randomness and checksum.
public enum TokenFormat {
    public static let keyPrefix = "prm_"
    public static let adminPrefix = "prmadm_"
    public static let randomLength = 32
    public static let checksumLength = 6
    /// Characters of randomness kept in a key's displayable prefix.
    static let displayedRandomLength = 6
    public static let maximumEnvironmentLength = 24

    /// A new virtual key for `environment`, which must satisfy ``isValidEnvironment(_:)``.
    public static func makeVirtualKey(environment: String) -> Secret {
        precondition(isValidEnvironment(environment), "invalid environment name")
        return Secret(sealed(keyPrefix + environment + "_" + Base62.random(count: randomLength)))
    }

    public static func makeAdminToken() -> Secret {
        Secret(sealed(adminPrefix + Base62.random(count: randomLength)))
    }

    /// What may be shown of a key: its prefix, its environment and the first random characters.
    public static func displayPrefix(of key: Secret) -> String {
        let value = key.revealed
        guard let parsed = parseVirtualKey(value) else { return String(value.prefix(8)) }
        return keyPrefix + parsed.environment + "_" + String(parsed.random.prefix(displayedRandomLength))
    }

    /// Environment names: lowercase letters, digits and `-`, starting with a letter or digit.
    public static func isValidEnvironment(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...maximumEnvironmentLength).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || (index > 0 && byte == 0x2D)
        }
    }

    /// The parts of a well-formed virtual key whose checksum holds, or `nil`.
    public static func parseVirtualKey(_ candidate: String) -> (environment: String, random: Substring)? {
        guard candidate.hasPrefix(keyPrefix) else { return nil }
        let rest = candidate.dropFirst(keyPrefix.count)
        guard let separator = rest.lastIndex(of: "_") else { return nil }
        let environment = String(rest[..<separator])
        let body = rest[rest.index(after: separator)...]
        guard isValidEnvironment(environment), body.utf8.count == randomLength + checksumLength,
            body.utf8.allSatisfy(Base62.isBase62), hasValidChecksum(candidate)
        else { return nil }
        return (environment, body.prefix(randomLength))
    }

    public static func isValidAdminToken(_ candidate: String) -> Bool {
        guard candidate.hasPrefix(adminPrefix) else { return false }
        let body = candidate.utf8.dropFirst(adminPrefix.utf8.count)
        return body.count == randomLength + checksumLength && body.allSatisfy(Base62.isBase62)
            && hasValidChecksum(candidate)
    }

    /// True when the last six characters are the base62 CRC-32 of everything before them.
    public static func hasValidChecksum(_ candidate: String) -> Bool {
        let bytes = Array(candidate.utf8)
        guard bytes.count > checksumLength else { return false }
        let payload = bytes.dropLast(checksumLength)
        let expected = Base62.encode(CRC32.checksum(payload), width: checksumLength)
        return bytes.suffix(checksumLength).elementsEqual(expected.utf8)
    }

    private static func sealed(_ payload: String) -> String {
        payload + Base62.encode(CRC32.checksum(payload.utf8), width: checksumLength)
    }
}

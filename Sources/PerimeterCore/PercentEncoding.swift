import Foundation

/// RFC 3986 percent-encoding for a path segment or a query value: everything but the unreserved
/// characters (ASCII letters, digits, `-._~`) is encoded. Foundation's `.alphanumerics` holds every
/// script's letters, and `.urlQueryAllowed` keeps `&` and `=`, so neither is safe here.
public enum PercentEncoding {
    public static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}

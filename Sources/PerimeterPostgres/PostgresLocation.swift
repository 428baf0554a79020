import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://USER@HOST:PORT/DATABASE?sslmode=MODE&sslrootcert=FILE` address. The password is never
/// part of it: it comes from a secret reference (`database_password`) or the environment, so config
/// files and logs never hold it.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        /// No TLS (loopback and tests only).
        case disable
        /// TLS if the server offers it, without checking its certificate.
        case prefer
        /// TLS, without checking the certificate.
        case require
        /// TLS, the certificate checked against `sslrootcert` (or the system's roots) and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    public var rootCertificate: String?

    /// Parses the address; `nil` with a reason when it is not one.
    public static func parse(_ text: String) -> Result<PostgresLocation, PostgresLocationError> {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            return .failure(.init("is not a postgres:// address"))
        }
        guard components.password == nil else {
            return .failure(.init("holds a password; give it as database_password (a secret reference) or PGPASSWORD instead"))
        }
        guard let user = components.user, !user.isEmpty else { return .failure(.init("names no user (postgres://USER@HOST/DB)")) }
        guard let host = components.host, !host.isEmpty else { return .failure(.init("names no host")) }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { return .failure(.init("has no valid port")) }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { return .failure(.init("names no database (postgres://USER@HOST/DB)")) }
        var location = PostgresLocation(
            user: user, host: host, port: port, database: database, tls: .prefer, rootCertificate: nil)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    return .failure(.init("has sslmode=\(item.value ?? ""); use disable, prefer, require or verify-full"))
                }
                location.tls = mode
            case "sslrootcert":
                location.rootCertificate = item.value
            default:
                return .failure(.init("has an unknown parameter '\(item.name)'; use sslmode and sslrootcert"))
            }
        }
        return .success(location)
    }

    /// The address without secrets (it never holds one), for logs and `serve --check`.
    public var description: String {
        var text = "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)"
        if let rootCertificate { text += "&sslrootcert=\(rootCertificate)" }
        return text
    }

    /// TLS as `sslmode` asks: `nil` for none.
    func tlsConfiguration() throws -> TLSConfiguration? {
        switch tls {
        case .disable:
            return nil
        case .prefer, .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let rootCertificate {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
            }
            return configuration
        }
    }

    /// One connection's configuration, for the start-up check that fails fast.
    public func connectionConfiguration(password: String?) throws -> PostgresConnection.Configuration {
        let setting: PostgresConnection.Configuration.TLS
        switch (tls, try tlsConfiguration()) {
        case (.prefer, let configuration?): setting = .prefer(try NIOSSLContext(configuration: configuration))
        case (_, let configuration?): setting = .require(try NIOSSLContext(configuration: configuration))
        case (_, nil): setting = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: setting)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The pooled client's configuration.
    public func clientConfiguration(password: String?) throws -> PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        switch (tls, try tlsConfiguration()) {
        case (.prefer, let configuration?): tlsSetting = .prefer(configuration)
        case (_, let configuration?): tlsSetting = .require(configuration)
        case (_, nil): tlsSetting = .disable
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tlsSetting)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = Self.sessionLimits
        return configuration
    }

    /// Bounds the server keeps on every pooled session, so nothing the gateway starts can wait or hold
    /// locks without end: a statement, a wait for a lock, and a transaction left open.
    static let sessionLimits = [
        ("statement_timeout", "30s"), ("lock_timeout", "10s"), ("idle_in_transaction_session_timeout", "30s"),
    ]
}

public struct PostgresLocationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

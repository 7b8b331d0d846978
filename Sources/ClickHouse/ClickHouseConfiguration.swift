/// How to reach one ClickHouse server over HTTP(S).
///
/// Keys (as read by the service's configuration):
///
/// | key | meaning | default |
/// |---|---|---|
/// | `clickhouse.url` | `http://host:port` or `https://host:port`, optionally with a path; no user or password in it | required |
/// | `clickhouse.user` | sent as `X-ClickHouse-User` | `default` |
/// | `clickhouse.password` | sent as `X-ClickHouse-Key`; secret, never logged or printed | empty |
/// | `clickhouse.tls_verify` | verify the server certificate and host name for https | `true` |
/// | `clickhouse.connect_timeout_s` | TCP (and TLS) connect timeout | 5 |
/// | `clickhouse.read_timeout_s` | longest wait for the next response byte | 300 |
/// | `clickhouse.pool_idle_timeout_s` | idle pooled connections are closed after this; below 18.16's 3 s keep-alive | 2.5 |
/// | `clickhouse.max_connections` | pooled connections per server | 8 |
public struct ClickHouseConfiguration: Sendable, CustomStringConvertible {
    /// The parsed server address.
    public let endpoint: Endpoint
    /// The ClickHouse user.
    public var user: String
    /// The user's password. Never part of ``description``.
    public var password: String
    /// Whether an https server's certificate chain and host name are verified. Only `false` when explicitly set.
    public var tlsVerify: Bool
    /// The connect timeout.
    public var connectTimeout: Duration
    /// The longest wait for the next byte of a response.
    public var readTimeout: Duration
    /// How long an idle pooled connection is kept. ClickHouse 18.16 closes keep-alive connections after 3 s, so the
    /// pool must drop them first or a request could be written into a connection the server is closing.
    public var poolIdleTimeout: Duration
    /// The most connections kept per server.
    public var maxConnections: Int
    /// Settings sent with every request (for example `max_insert_block_size`); per-request settings override them.
    public var settings: [String: String]

    /// A validated server address.
    public struct Endpoint: Sendable, Hashable {
        /// `http` or `https`.
        public var scheme: String
        /// The host name or address.
        public var host: String
        /// The port.
        public var port: Int
        /// The base path, `/` by default.
        public var path: String

        /// The URL without a query string.
        public var baseURL: String {
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return "\(scheme)://\(hostPart):\(port)\(path)"
        }
    }

    /// Creates a configuration.
    /// - Throws: ``ClickHouseConfigurationError`` naming the bad key.
    public init(
        url: String, user: String = "default", password: String = "", tlsVerify: Bool = true,
        connectTimeout: Duration = .seconds(5), readTimeout: Duration = .seconds(300),
        poolIdleTimeout: Duration = .milliseconds(2500), maxConnections: Int = 8, settings: [String: String] = [:]
    ) throws(ClickHouseConfigurationError) {
        self.endpoint = try Self.parse(url: url)
        self.user = user
        self.password = password
        self.tlsVerify = tlsVerify
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.poolIdleTimeout = poolIdleTimeout
        self.maxConnections = maxConnections
        self.settings = settings
        guard connectTimeout > .zero else { throw .init(key: "clickhouse.connect_timeout_s", reason: "must be positive") }
        guard readTimeout > .zero else { throw .init(key: "clickhouse.read_timeout_s", reason: "must be positive") }
        guard poolIdleTimeout > .zero, poolIdleTimeout < .seconds(3) else {
            throw .init(key: "clickhouse.pool_idle_timeout_s", reason: "must be above 0 and below 3 s, the keep-alive timeout of ClickHouse 18.16")
        }
        guard maxConnections >= 1 else { throw .init(key: "clickhouse.max_connections", reason: "must be at least 1") }
        guard !user.isEmpty else { throw .init(key: "clickhouse.user", reason: "must not be empty") }
    }

    /// Parses `scheme://host[:port][/path]`, refusing credentials, query strings and fragments.
    static func parse(url: String) throws(ClickHouseConfigurationError) -> Endpoint {
        func fail(_ reason: String) -> ClickHouseConfigurationError { .init(key: "clickhouse.url", reason: reason) }
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") {
            scheme = "http"
        } else if lower.hasPrefix("https://") {
            scheme = "https"
        } else {
            throw fail("must start with http:// or https://")
        }
        var rest = Substring(url.dropFirst(scheme.count + 3))
        if rest.contains("?") || rest.contains("#") { throw fail("must not contain a query string or fragment; use settings") }
        let authority = rest.prefix { $0 != "/" }
        rest = rest.dropFirst(authority.count)
        if authority.contains("@") {
            throw fail("must not contain a user or password; use clickhouse.user and clickhouse.password")
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("has an unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw fail("has text after the IPv6 address") }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw fail("has no host") }
        var port = scheme == "https" ? 8443 : 8123
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw fail("has an invalid port") }
            port = value
        }
        var path = String(rest)
        if path.isEmpty { path = "/" }
        return Endpoint(scheme: scheme, host: String(host), port: port, path: path)
    }

    /// The server address and user; the password is never shown.
    public var description: String {
        "ClickHouseConfiguration(url: \(endpoint.baseURL), user: \(user), password: \(password.isEmpty ? "<none>" : "<redacted>"), tls_verify: \(tlsVerify))"
    }
}

/// A configuration value that cannot be used.
public struct ClickHouseConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The configuration key.
    public var key: String
    /// What is wrong with it.
    public var reason: String

    /// Creates an error.
    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "invalid configuration \(key): \(reason)" }
}

public import SluiceCore

/// The HTTP listener, its limits, and API-key authentication.
public struct ServerConfiguration: Sendable {
    /// `http.host` (default `0.0.0.0`).
    public var host: String
    /// `http.port` (default `8080`; `0` picks a free port).
    public var port: Int
    /// `http.max_body_bytes`: larger request bodies get 413 (default 262144, EventBridge's event limit).
    public var maxBodyBytes: Int
    /// `http.max_json_depth`: deeper JSON nesting gets 400 (default 32).
    public var maxJSONDepth: Int
    /// `http.idle_timeout_s`: a connection that sends nothing for this long is closed, which also bounds
    /// how slowly a client may send its headers (default 15).
    public var idleTimeoutSeconds: Double
    /// `http.body_timeout_s`: the whole request body must arrive within this time (default 10).
    public var bodyTimeoutSeconds: Double
    /// `http.header_timeout_s`: a request head must be complete within this time of the connection opening (or,
    /// on a kept-alive connection, of `http.idle_timeout_s` plus this after the previous response); else the
    /// connection is closed (default 10). Slow-header clients cannot hold a connection for longer.
    public var headerTimeoutSeconds: Double
    /// `http.max_connections`: over this, the connection waiting longest for a request head is closed to make room;
    /// at twice this, new connections wait in the accept backlog (default 1024).
    public var maxConnections: Int
    /// `http.drain_seconds`: after SIGTERM, how long intake keeps answering 503 before the listener
    /// closes, so load balancers notice (default 2).
    public var drainSeconds: Double
    /// `http.retry_after_s`: the `Retry-After` of 429 and 503 answers (default 5).
    public var retryAfterSeconds: Int
    /// `auth.api_keys`: accepted API keys; several at once allow rotation. Empty disables authentication.
    public var apiKeys: [String]
    /// `auth.header`: the header that carries the key (default `x-api-key`).
    public var authHeader: String
    /// `auth.protect_ops`: whether `/health`, `/ready` and `/metrics` need a key too (default false).
    public var protectOps: Bool

    public init(
        host: String = "0.0.0.0", port: Int = 8080, maxBodyBytes: Int = 262_144, maxJSONDepth: Int = 32,
        idleTimeoutSeconds: Double = 15, bodyTimeoutSeconds: Double = 10, headerTimeoutSeconds: Double = 10, maxConnections: Int = 1024,
        drainSeconds: Double = 2, retryAfterSeconds: Int = 5, apiKeys: [String] = [], authHeader: String = "x-api-key",
        protectOps: Bool = false
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxJSONDepth = maxJSONDepth
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.bodyTimeoutSeconds = bodyTimeoutSeconds
        self.headerTimeoutSeconds = headerTimeoutSeconds
        self.maxConnections = maxConnections
        self.drainSeconds = drainSeconds
        self.retryAfterSeconds = retryAfterSeconds
        self.apiKeys = apiKeys
        self.authHeader = authHeader
        self.protectOps = protectOps
    }

    /// Reads the `http.*` and `auth.*` keys.
    ///
    /// ## Configuration keys
    /// - `http.host` (string, default `0.0.0.0`), `http.port` (int, default `8080`)
    /// - `http.max_body_bytes` (int, default `262144`), `http.max_json_depth` (int, default `32`)
    /// - `http.idle_timeout_s` (double, default `15`), `http.body_timeout_s` (double, default `10`),
    ///   `http.header_timeout_s` (double, default `10`)
    /// - `http.max_connections` (int, default `1024`), `http.drain_seconds` (double, default `2`)
    /// - `http.retry_after_s` (int, default `5`)
    /// - `auth.api_keys` (string list, secret, default empty = no authentication)
    /// - `auth.header` (string, default `x-api-key`), `auth.protect_ops` (bool, default `false`)
    public init(values: ConfigValues) {
        let http = values.scoped("http")
        host = http.string("host", default: "0.0.0.0")
        port = http.int("port", default: 8080, range: 0...65535)
        maxBodyBytes = http.int("max_body_bytes", default: 262_144, range: 1024...(64 << 20))
        maxJSONDepth = http.int("max_json_depth", default: 32, range: 4...512)
        idleTimeoutSeconds = http.double("idle_timeout_s", default: 15, range: 0.1...3600)
        bodyTimeoutSeconds = http.double("body_timeout_s", default: 10, range: 0.1...3600)
        headerTimeoutSeconds = http.double("header_timeout_s", default: 10, range: 0.1...3600)
        maxConnections = http.int("max_connections", default: 1024, range: 1...1_000_000)
        drainSeconds = http.double("drain_seconds", default: 2, range: 0...600)
        retryAfterSeconds = http.int("retry_after_s", default: 5, range: 1...3600)
        let auth = values.scoped("auth")
        apiKeys = auth.stringArray("api_keys", default: [], isSecret: true)
        for (i, key) in apiKeys.enumerated() where key.utf8.count < 16 {
            auth.problem("api_keys[\(i)]", "API keys must be at least 16 characters (got \(key.utf8.count))")
        }
        authHeader = auth.string("header", default: "x-api-key").lowercased()
        if authHeader.isEmpty || !authHeader.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) {
            auth.problem("header", "must be a header name of letters, digits and '-'")
        }
        protectOps = auth.bool("protect_ops", default: false)
    }
}

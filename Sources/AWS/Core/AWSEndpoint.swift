import Foundation

/// Where a service is reached: scheme, host, port and an optional base path.
///
/// Plain `http` is only ever used when the endpoint was configured with an `http://` URL
/// (a local emulator); AWS's own endpoints are always `https`.
public struct AWSEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https` or `http`.
    public var scheme: String
    /// The host name or IP literal (IPv6 without brackets).
    public var host: String
    /// The port, when it is not the scheme's default.
    public var port: Int?
    /// A path prefix every request path goes under, without a trailing slash (usually empty).
    public var basePath: String

    /// Parses `scheme://host[:port][/path]`. Query strings, fragments and user info are refused.
    public init(url: String) throws {
        let invalid = { (reason: String) in
            AWSError(
                code: AWSError.Code.invalidConfiguration,
                category: .permanent,
                message: "endpoint \"\(url)\": \(reason)",
                service: "config",
                operation: "endpoint"
            )
        }
        guard let schemeEnd = url.range(of: "://") else { throw invalid("expected scheme://host[:port]") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { throw invalid("scheme must be https or http") }
        var rest = url[schemeEnd.upperBound...]
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else {
            throw invalid("query, fragment and user info are not allowed")
        }
        var basePath = ""
        if let slash = rest.firstIndex(of: "/") {
            basePath = String(rest[slash...])
            rest = rest[..<slash]
            while basePath.hasSuffix("/") { basePath.removeLast() }
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unterminated IPv6 literal") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw invalid("bad host") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty,
            host.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":")
                    || byte == UInt8(ascii: "_")
            })
        else { throw invalid("bad host") }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw invalid("bad port") }
            port = value
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port == (scheme == "https" ? 443 : 80) ? nil : port
        self.basePath = basePath
    }

    /// Creates an endpoint from its parts.
    public init(scheme: String, host: String, port: Int? = nil, basePath: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    /// The `Host` header value: host, plus the port when it is not the default.
    public var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        if let port { return "\(host):\(port)" }
        return host
    }

    /// `scheme://host[:port]` without the base path.
    public var origin: String { "\(self.scheme)://\(self.hostHeader)" }

    public var description: String { self.origin + self.basePath }

    /// Whether the host is an IP literal or `localhost`, where virtual-hosted buckets cannot work.
    var isIPOrLocalhost: Bool {
        if self.host == "localhost" || self.host.contains(":") { return true }
        let parts = self.host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}

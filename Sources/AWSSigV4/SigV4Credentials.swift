/// The key material that signs a request: an access key id, its secret and, for temporary
/// credentials, the session token.
///
/// `description` and `debugDescription` never show the secret or the token, so a value can be
/// logged or interpolated into an error message without leaking it.
public struct SigV4Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The access key id, for example `AKIAIOSFODNN7EXAMPLE`. It names the key but does not prove
    /// possession of it.
    public var accessKeyID: String
    /// The secret access key. Never printed.
    public var secretAccessKey: String
    /// The session token of temporary credentials (STS, IRSA, ECS, IMDS). Never printed.
    public var sessionToken: String?

    /// Creates credentials from their parts.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key id with all but its first four characters masked, for logs.
    public var redactedAccessKeyID: String {
        guard self.accessKeyID.count > 4 else { return "****" }
        return String(self.accessKeyID.prefix(4)) + String(repeating: "*", count: min(16, self.accessKeyID.count - 4))
    }

    public var description: String {
        let token = self.sessionToken == nil ? "none" : "<redacted>"
        return "SigV4Credentials(accessKeyID: \(self.redactedAccessKeyID), secretAccessKey: <redacted>, sessionToken: \(token))"
    }

    public var debugDescription: String { self.description }
}

public import AWSSigV4
public import Foundation
public import Logging

/// Credentials with their origin and lifetime.
///
/// `description` and `debugDescription` never show the secret or the session token.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The signing key.
    public var sigV4: SigV4Credentials
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?
    /// Which source produced them (`environment`, `web-identity`, `profile:<name>`, `container`,
    /// `instance-metadata`, `static`), for logs.
    public var source: String

    /// Creates credentials.
    public init(sigV4: SigV4Credentials, expiration: Date? = nil, source: String) {
        self.sigV4 = sigV4
        self.expiration = expiration
        self.source = source
    }

    /// Creates credentials from their parts.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String) {
        self.init(
            sigV4: SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken),
            expiration: expiration,
            source: source
        )
    }

    /// Whether asking the source again could give different credentials.
    var canRefresh: Bool { self.expiration != nil }

    public var description: String {
        var text = "AWSCredentials(source: \(self.source), accessKeyID: \(self.sigV4.redactedAccessKeyID), secretAccessKey: <redacted>"
        text += self.sigV4.sessionToken == nil ? ", sessionToken: none" : ", sessionToken: <redacted>"
        if let expiration { text += ", expiration: \(expiration)" }
        return text + ")"
    }

    public var debugDescription: String { self.description }
}

/// A source of credentials.
///
/// A source that is not configured at all (its environment variables are unset, its profile
/// does not exist) throws ``AWSError`` with code ``AWSError/Code/credentialsNotFound`` so that a
/// ``CredentialProviderChain`` moves on; a configured source that fails throws any other error,
/// which stops the chain.
public protocol CredentialProvider: Sendable {
    /// Returns credentials, fetching them if needed.
    func credentials(logger: Logger) async throws -> AWSCredentials
    /// Forgets cached credentials, so the next call fetches new ones (after `ExpiredToken`).
    func invalidate() async
}

extension CredentialProvider {
    /// Nothing to forget by default.
    public func invalidate() async {}
}

extension AWSError {
    static func credentialsNotFound(_ source: String, _ reason: String) -> AWSError {
        AWSError(
            code: Code.credentialsNotFound,
            category: .permanent,
            message: "\(source): \(reason)",
            service: "credentials",
            operation: source
        )
    }

    static func credentialsUnavailable(_ source: String, _ reason: String, category: Category = .permanent) -> AWSError {
        AWSError(
            code: Code.credentialsUnavailable,
            category: category,
            message: "\(source): \(reason)",
            service: "credentials",
            operation: source
        )
    }
}

/// Fixed credentials (tests, or keys given in configuration).
public struct StaticCredentialProvider: CredentialProvider {
    let value: AWSCredentials

    /// Always returns these credentials.
    public init(_ credentials: AWSCredentials) {
        self.value = credentials
    }

    /// Always returns these keys, with source `static`.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.value = AWSCredentials(
            accessKeyID: accessKeyID,
            secretAccessKey: secretAccessKey,
            sessionToken: sessionToken,
            source: "static"
        )
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials { self.value }
}

/// Tries providers in order; the first that is configured answers.
public struct CredentialProviderChain: CredentialProvider {
    /// The providers, in the order they are tried.
    public let providers: [any CredentialProvider]

    /// Creates a chain.
    public init(_ providers: [any CredentialProvider]) {
        self.providers = providers
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        var reasons: [String] = []
        for provider in self.providers {
            do {
                let credentials = try await provider.credentials(logger: logger)
                logger.debug("aws credentials resolved", metadata: ["aws.credentials_source": "\(credentials.source)"])
                return credentials
            } catch let error as AWSError where error.code == AWSError.Code.credentialsNotFound {
                reasons.append(error.message)
            }
        }
        throw AWSError(
            code: AWSError.Code.credentialsNotFound,
            category: .permanent,
            message: "no credential source is configured (" + reasons.joined(separator: "; ") + ")",
            service: "credentials",
            operation: "chain"
        )
    }

    public func invalidate() async {
        for provider in self.providers { await provider.invalidate() }
    }
}

/// Caches another provider's credentials and refreshes them shortly before they expire.
///
/// Concurrent callers that find the cache stale share one refresh. If a refresh fails while the
/// cached credentials have not yet expired, the cached ones are returned.
public actor CachingCredentialProvider: CredentialProvider {
    let base: any CredentialProvider
    let refreshMargin: TimeInterval
    let now: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var refresh: Task<AWSCredentials, any Error>?
    private var refreshCount = 0

    /// Wraps `base`; credentials are refreshed `refreshMargin` seconds before `expiration`.
    public init(_ base: any CredentialProvider, refreshMargin: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() }) {
        self.base = base
        self.refreshMargin = refreshMargin
        self.now = now
    }

    /// How many times the wrapped provider has been asked (for tests and metrics).
    public var fetches: Int { self.refreshCount }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        if let cached, !self.isStale(cached) { return cached }
        let task: Task<AWSCredentials, any Error>
        if let running = self.refresh {
            task = running
        } else {
            self.refreshCount += 1
            let base = self.base
            task = Task { try await base.credentials(logger: logger) }
            self.refresh = task
        }
        do {
            let fresh = try await task.value
            if self.refresh == task {
                self.refresh = nil
                self.cached = fresh
            }
            return fresh
        } catch {
            if self.refresh == task { self.refresh = nil }
            if let cached, let expiration = cached.expiration, expiration > self.now() {
                logger.warning("aws credential refresh failed, using cached credentials until they expire")
                return cached
            }
            throw error
        }
    }

    public func invalidate() async {
        self.cached = nil
        await self.base.invalidate()
    }

    private func isStale(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return expiration.timeIntervalSince(self.now()) <= self.refreshMargin
    }
}

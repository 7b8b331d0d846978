public import Logging

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialProvider: CredentialProvider {
    let environment: AWSEnvironment

    /// Reads the variables from `environment` on each call.
    public init(environment: AWSEnvironment) {
        self.environment = environment
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        let accessKey = self.environment["AWS_ACCESS_KEY_ID"]
        let secret = self.environment["AWS_SECRET_ACCESS_KEY"]
        switch (accessKey, secret) {
        case (nil, nil):
            throw AWSError.credentialsNotFound("environment", "AWS_ACCESS_KEY_ID is not set")
        case (let accessKey?, let secret?):
            return AWSCredentials(
                accessKeyID: accessKey,
                secretAccessKey: secret,
                sessionToken: self.environment["AWS_SESSION_TOKEN"],
                source: "environment"
            )
        case (nil, _):
            throw AWSError.credentialsUnavailable("environment", "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (_, nil):
            throw AWSError.credentialsUnavailable("environment", "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
    }
}

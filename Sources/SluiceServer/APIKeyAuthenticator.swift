import Crypto

/// Checks API keys without revealing, through timing, which key or how much of it matched.
///
/// Keys are kept only as SHA-256 digests. A presented key is hashed and compared with every configured
/// digest, byte by byte without early exit, so the time taken does not depend on where a wrong key differs
/// or on which key matched. Several keys may be valid at once, for rotation.
struct APIKeyAuthenticator: Sendable {
    private let digests: [[UInt8]]

    init(keys: [String]) {
        digests = keys.map { Array(SHA256.hash(data: Array($0.utf8))) }
    }

    var isEnabled: Bool { !digests.isEmpty }

    func isValid(_ presented: String?) -> Bool {
        guard isEnabled else { return true }
        let candidate = Array(SHA256.hash(data: Array((presented ?? "").utf8)))
        var matched: UInt8 = 0
        for digest in digests {
            var difference: UInt8 = 0
            for i in 0..<digest.count { difference |= digest[i] ^ candidate[i] }
            matched |= difference == 0 ? 1 : 0
        }
        return presented != nil && matched == 1
    }
}

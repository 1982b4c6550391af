import COpenSSL

/// The shared secret Telegram sends in X-Telegram-Bot-Api-Secret-Token.
/// Comparison hashes both sides first and compares the digests with OpenSSL's
/// CRYPTO_memcmp, so neither the content nor the length of the secret leaks
/// through timing.
struct WebhookSecret: Sendable {
    private let digest: [UInt8]

    init(_ secret: String) {
        digest = Digest.sha256(Array(secret.utf8))
    }

    func matches(_ candidate: String?) -> Bool {
        let other = Digest.sha256(Array((candidate ?? "").utf8))
        let equal = digest.withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in
                CRYPTO_memcmp(mine.baseAddress, theirs.baseAddress, Int(SHA256_DIGEST_LENGTH))
            }
        }
        // A missing header hashes like an empty one; the configured secret is never empty.
        return candidate != nil && equal == 0
    }

    /// Hex SHA-256 of the secret: identifies it (e.g. "the registered secret changed") without revealing it.
    var fingerprint: String { Digest.hex(digest) }
}

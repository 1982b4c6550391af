import COpenSSL

/// Telegram accepts a webhook on a self-signed certificate only if setWebhook uploads that
/// certificate; a certificate from a public CA must not be uploaded (Telegram would then
/// pin it, and a renewal would break delivery).
enum SelfSignedCertificate {
    /// Whether the first certificate in the PEM file at `path` is issued by itself.
    /// Throws if the file cannot be read as a certificate.
    static func isSelfSigned(path: String) throws(ConfigurationError) -> Bool {
        guard let file = BIO_new_file(path, "r") else {
            throw ConfigurationError(variable: "TLS_CERT_FILE", problem: "cannot open \(path)")
        }
        defer { BIO_free(file) }
        guard let certificate = PEM_read_bio_X509(file, nil, nil, nil) else {
            throw ConfigurationError(variable: "TLS_CERT_FILE", problem: "\(path) holds no PEM certificate")
        }
        defer { X509_free(certificate) }
        return X509_check_issued(certificate, certificate) == X509_V_OK
    }
}

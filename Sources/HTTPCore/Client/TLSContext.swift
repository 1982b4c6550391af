import COpenSSL

/// The OpenSSL client context shared by every TLS connection of one client: TLS 1.2 or
/// newer, peer verification on, trust from the system store or a configured CA file.
final class TLSContext: @unchecked Sendable {
    // SSL_CTX is reference-counted and safe to share once configured; it is never changed after init.
    let context: OpaquePointer

    init(trustedCAFile: String?) throws(HTTPClientError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .tlsFailed(origin: "-", reason: "SSL_CTX_new: \(TLSContext.lastError())")
        }
        self.context = context
        guard copenssl_ctx_set_min_proto_version(context, copenssl_tls1_2_version()) == 1 else {
            throw .tlsFailed(origin: "-", reason: "cannot require TLS 1.2: \(TLSContext.lastError())")
        }
        _ = copenssl_ctx_set_mode(context, copenssl_client_modes())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let trustedCAFile {
            guard SSL_CTX_load_verify_locations(context, trustedCAFile, nil) == 1 else {
                throw .fileError(path: trustedCAFile, reason: "not a readable PEM CA file: \(TLSContext.lastError())")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw .tlsFailed(origin: "-", reason: "no system trust store: \(TLSContext.lastError())")
            }
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Takes and clears OpenSSL's error queue for this thread, as one readable string.
    static func lastError() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
    }
}

import COpenSSL

/// A configured OpenSSL context, shared by every TLS connection of one client or server.
/// TLS 1.2 or newer. Clients verify the peer (system trust store or a CA file); servers
/// present a certificate chain and key from PEM files.
final class TLSContext: @unchecked Sendable {
    // SSL_CTX is reference-counted and safe to share once configured; it is never changed after init.
    let context: OpaquePointer

    /// Why a context could not be made: the reason names the file or setting to fix.
    struct SetupError: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    private init(method: OpaquePointer?) throws(SetupError) {
        guard let context = SSL_CTX_new(method) else { throw SetupError(description: "SSL_CTX_new: \(Self.lastError())") }
        self.context = context
        guard copenssl_ctx_set_min_proto_version(context, copenssl_tls1_2_version()) == 1 else {
            throw SetupError(description: "cannot require TLS 1.2: \(Self.lastError())")
        }
        _ = copenssl_ctx_set_mode(context, copenssl_stream_modes())
    }

    static func client(trustedCAFile: String?) throws(SetupError) -> TLSContext {
        let tls = try TLSContext(method: TLS_client_method())
        SSL_CTX_set_verify(tls.context, SSL_VERIFY_PEER, nil)
        if let trustedCAFile {
            guard SSL_CTX_load_verify_locations(tls.context, trustedCAFile, nil) == 1 else {
                throw SetupError(description: "\(trustedCAFile) is not a readable PEM CA file: \(Self.lastError())")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(tls.context) == 1 else {
                throw SetupError(description: "no system trust store: \(Self.lastError())")
            }
        }
        return tls
    }

    static func server(certificateChainFile: String, privateKeyFile: String) throws(SetupError) -> TLSContext {
        let tls = try TLSContext(method: TLS_server_method())
        guard SSL_CTX_use_certificate_chain_file(tls.context, certificateChainFile) == 1 else {
            throw SetupError(description: "\(certificateChainFile) is not a readable PEM certificate chain: \(Self.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(tls.context, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw SetupError(description: "\(privateKeyFile) is not a readable PEM private key: \(Self.lastError())")
        }
        guard SSL_CTX_check_private_key(tls.context) == 1 else {
            throw SetupError(description: "\(privateKeyFile) does not match the certificate in \(certificateChainFile)")
        }
        return tls
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

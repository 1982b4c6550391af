#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

// Functions OpenSSL defines as macros, which Swift cannot import.

static inline long copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int copenssl_tls1_2_version(void) { return TLS1_2_VERSION; }

static inline long copenssl_stream_modes(void) {
    // Partial writes let a non-blocking SSL_write return after a slice; moving buffers let
    // the retry after WANT_WRITE pass a different (re-sliced) pointer; released buffers keep
    // idle pooled connections small.
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}

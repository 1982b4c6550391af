import Logging

/// What the bot asks Telegram for with setWebhook, and how `serve` keeps it registered.
struct WebhookRegistration: Sendable {
    let url: String
    let secret: String
    let maxConnections: Int
    var allowedUpdates = Update.handledKinds
    /// A self-signed TLS_CERT_FILE, uploaded with setWebhook so that Telegram trusts it.
    let certificatePath: String?

    init(configuration: Configuration) throws(ConfigurationError) {
        guard let url = configuration.webhookURL else {
            throw ConfigurationError(
                variable: "PUBLIC_URL", problem: "is required to register the webhook (the bot's public https:// URL)")
        }
        guard let secret = configuration.webhookSecret else {
            throw ConfigurationError(variable: "TELEGRAM_WEBHOOK_SECRET", problem: "is required to register the webhook")
        }
        self.url = url
        self.secret = secret
        maxConnections = configuration.webhookMaxConnections
        if let tls = configuration.tls, try SelfSignedCertificate.isSelfSigned(path: tls.certificateChainPath) {
            certificatePath = tls.certificateChainPath
        } else {
            certificatePath = nil
        }
    }

    func request(dropPendingUpdates: Bool = false) -> SetWebhook {
        SetWebhook(
            url: url, secretToken: secret, allowedUpdates: allowedUpdates, maxConnections: maxConnections,
            dropPendingUpdates: dropPendingUpdates ? true : nil)
    }

    /// Calls setWebhook: as JSON, or as multipart with the certificate file when there is one.
    func register(api: TelegramBotAPI, dropPendingUpdates: Bool = false) async throws(TelegramError) {
        let request = request(dropPendingUpdates: dropPendingUpdates)
        guard let certificatePath else {
            try await api.setWebhook(request)
            return
        }
        try request.validate()
        var fields = [
            ("url", request.url), ("secret_token", secret), ("max_connections", String(maxConnections)),
            ("allowed_updates", "[" + allowedUpdates.map { "\"\($0)\"" }.joined(separator: ",") + "]"),
        ]
        if dropPendingUpdates { fields.append(("drop_pending_updates", "true")) }
        let size: Int
        do {
            size = try FileSize.of(certificatePath)
        } catch {
            throw .invalidRequest("cannot read TLS_CERT_FILE \(certificatePath): \(error)")
        }
        _ = try await api.upload(
            method: SetWebhook.method, fields: fields,
            file: .init(field: "certificate", path: certificatePath, filename: "certificate.pem",
                        contentType: "application/x-pem-file", size: size),
            as: Bool.self)
    }

    /// Everything registered, the secret only as a digest: getWebhookInfo does not say which
    /// secret Telegram holds, so a changed secret is noticed here.
    var fingerprint: String {
        "\(url) max=\(maxConnections) updates=\(allowedUpdates.joined(separator: ",")) secret=\(WebhookSecret(secret).fingerprint)"
            + (certificatePath.map { " certificate=\($0)" } ?? "")
    }

    /// Registers the webhook unless Telegram already has this URL and what we last registered
    /// matches the configuration. Returns whether setWebhook was called.
    func ensure(api: TelegramBotAPI, state: BotStateStore) async throws -> Bool {
        let info = try await api.getWebhookInfo()
        let registered = try await state.value(.webhookRegistration)
        if info.url == url && registered == fingerprint { return false }
        try await register(api: api)
        try await state.set(.webhookRegistration, fingerprint)
        return true
    }
}

/// `serve` with PUBLIC_URL: keeps trying to register the webhook in the background (Telegram
/// may be unreachable at start-up), so the server is up and acknowledging meanwhile.
struct WebhookRegistrationService: Sendable {
    let registration: WebhookRegistration
    let api: TelegramBotAPI
    let state: BotStateStore
    let logger: Logger

    func run() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                if try await registration.ensure(api: api, state: state) {
                    logger.notice("webhook registered", metadata: ["url": "\(registration.url)"])
                } else {
                    logger.info("webhook already registered", metadata: ["url": "\(registration.url)"])
                }
                return
            } catch {
                failures += 1
                let wait = min(Duration.seconds(1) * (1 << min(failures - 1, 6)), .seconds(60))
                logger.warning(
                    "could not register the webhook; retrying",
                    metadata: ["attempt": "\(failures)", "retry_in": "\(wait)", "error": "\(error)"])
                try? await Task.sleep(for: wait)
            }
        }
    }
}

import HTTPCore

/// Why a Bot API call failed, with what the caller needs to decide what to do next.
enum TelegramError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Telegram answered `ok: false`.
    case api(code: Int, description: String, retryAfter: Int?, migrateToChatID: Int64?)
    /// The request did not get an answer (network, TLS, timeout).
    case transport(HTTPClientError)
    /// An answer that is not the Bot API's JSON (a proxy's HTML error page, a truncated body).
    case unexpectedResponse(status: Int, detail: String)
    /// We refused to send something Telegram would reject (too long, bad callback data, ...).
    case invalidRequest(String)

    var description: String {
        switch self {
        case let .api(code, description, retryAfter, migrate):
            var text = "Telegram error \(code): \(description)"
            if let retryAfter { text += " (retry after \(retryAfter) s)" }
            if let migrate { text += " (chat moved to \(migrate))" }
            return text
        case let .transport(error): return "cannot reach Telegram: \(error)"
        case let .unexpectedResponse(status, detail): return "unexpected answer from Telegram (HTTP \(status)): \(detail)"
        case let .invalidRequest(reason): return "not sent to Telegram: \(reason)"
        }
    }

    /// Seconds Telegram asked us to wait (429 flood control).
    var retryAfter: Int? {
        if case .api(429, _, let retryAfter, _) = self { return retryAfter ?? 1 }
        return nil
    }

    /// An edit that changes nothing: the message already shows what we wanted.
    var isMessageNotModified: Bool {
        if case .api(400, let description, _, _) = self { return description.contains("message is not modified") }
        return false
    }

    /// Telegram refused the HTML: the same text must go out without parse_mode.
    var isEntityParseError: Bool {
        if case .api(400, let description, _, _) = self { return description.contains("can't parse entities") }
        return false
    }

    /// The method or its parameters are unknown to this Bot API server (an older one).
    var isUnsupportedMethod: Bool {
        if case .api(let code, let description, _, _) = self {
            return code == 404 || description.localizedCaseInsensitiveContainsFallback("method not found")
                || description.contains("TEXTDRAFT_PEER_INVALID")
        }
        return false
    }

    /// Worth sending again later: flood control, Telegram's own 5xx, or a network fault.
    /// The result label of botserver_telegram_requests_total.
    var metricsResult: String {
        switch self {
        case .api(429, _, _, _): return "rate_limited"
        case .api(let code, _, _, _) where code >= 500: return "server_error"
        case .api: return "client_error"
        case .transport: return "network"
        case .unexpectedResponse: return "unexpected_response"
        case .invalidRequest: return "invalid_request"
        }
    }

    var isRetryable: Bool {
        switch self {
        case .api(let code, _, _, _): return code == 429 || code >= 500
        case .transport(let error): return error.isTransient
        case .unexpectedResponse(let status, _): return status >= 500 || status == 0
        case .invalidRequest: return false
        }
    }
}

extension String {
    func localizedCaseInsensitiveContainsFallback(_ other: String) -> Bool {
        lowercased().contains(other.lowercased())
    }
}

import HTTPCore
import Logging

/// POST /telegram/webhook: authenticate, store durably, dispatch, acknowledge.
/// The 200 is sent only after the update's row is flushed to disk, so an acknowledged
/// update survives any crash, of the process or of the machine; anything else Telegram
/// will deliver again. Handling starts earlier, as soon as the row is committed (safe
/// from a crash of the process), so a prompt does not wait for the disk.
struct WebhookEndpoint: Sendable {
    static let path = "/telegram/webhook"
    static let secretHeader = "X-Telegram-Bot-Api-Secret-Token"

    let secret: WebhookSecret
    let store: InboxStore
    let dispatcher: Dispatcher
    let metrics: BotMetrics

    func handle(_ request: HTTPRequest, _ context: RequestContext) async -> HTTPResponse {
        let (response, result) = await respond(to: request, context)
        metrics.webhookRequest(result)
        return response
    }

    private func respond(to request: HTTPRequest, _ context: RequestContext) async -> (HTTPResponse, BotMetrics.WebhookResult) {
        guard secret.matches(request.head.headers[Self.secretHeader]) else {
            context.logger.warning(
                "webhook request with a missing or wrong secret token",
                metadata: ["peer": "\(context.peer)",
                           "header": "\(request.head.headers.contains(Self.secretHeader) ? "wrong" : "missing")"])
            return (.text(.unauthorized, "unauthorized"), .unauthorized)
        }
        let receivedAt = UnixTime.nowMillis()
        switch UpdateClassification(body: request.body) {
        case .malformed(let reason):
            context.logger.warning("webhook body is not JSON", metadata: ["peer": "\(context.peer)", "reason": "\(reason)"])
            return (.text(.badRequest, reason), .malformed)

        case .notAnUpdate(let reason):
            // Acknowledge: Telegram would otherwise retry it for a day and hold back the chat behind it.
            do {
                try await store.storeRejected(
                    payload: request.body, reason: reason, peer: "\(context.peer)", receivedAt: receivedAt)
            } catch {
                return (storageFailure(error, context), .unavailable)
            }
            context.logger.warning("webhook body is not an update; kept as rejected", metadata: ["reason": "\(reason)"])
            return (HTTPResponse(status: .ok), .rejected)

        case .update(let envelope):
            let entry = InboxEntry(
                updateID: envelope.updateID, kind: envelope.kind, conversation: envelope.conversation,
                payload: request.body, receivedAt: receivedAt)
            metrics.latency.received(envelope.updateID, at: context.receivedAt)
            let record = InboxRecord(pending: entry, attemptRecorded: true)
            let dispatcher = self.dispatcher
            dispatcher.arriving(record)
            do {
                let isNew = try await store.store(entry) { isNew in
                    // A power cut before the flush loses the row, but then no 200 was sent
                    // and Telegram delivers the update again.
                    if isNew { dispatcher.submit(record) }
                }
                guard isNew else {
                    context.logger.debug("duplicate update ignored", metadata: ["update_id": "\(envelope.updateID)"])
                    return (HTTPResponse(status: .ok), .duplicate)
                }
            } catch {
                return (storageFailure(error, context), .unavailable)
            }
            return (HTTPResponse(status: .ok), .stored)
        }
    }

    /// Not stored means not acknowledged: Telegram keeps the update and retries.
    private func storageFailure(_ error: any Error, _ context: RequestContext) -> HTTPResponse {
        context.logger.error("could not store webhook update", metadata: ["error": "\(error)"])
        return .text(.serviceUnavailable, "storage unavailable, retry later")
    }
}

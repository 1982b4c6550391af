import Foundation
import TestSupport

/// Tests/FakeServers/fake_bot_api.py: a local Bot API that validates like the real one
/// (stricter), records every call and can be scripted to fail. See its docstring for the contract.
final class FakeBotAPI: Sendable {
    static let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"

    let process: FakeServerProcess
    var port: Int { process.port }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `flood`: per-chat limit and window in seconds, and the retry_after it answers with.
    static func start(floodLimit: Int = 1000, floodWindow: Int = 10, retryAfter: Int = 1) async throws -> FakeBotAPI {
        FakeBotAPI(process: try await FakeServerProcess.start(
            script: "fake_bot_api.py",
            arguments: [
                "--port", "0", "--token", Self.token,
                "--flood-chat-limit", String(floodLimit), "--flood-chat-window", String(floodWindow),
                "--flood-group-limit", String(floodLimit), "--flood-group-window", String(floodWindow),
                "--flood-retry-after", String(retryAfter),
            ]))
    }

    private init(process: FakeServerProcess) { self.process = process }

    /// Returns at once; the fake is reaped in the background.
    func stop() { process.stop() }
    /// Blocks until the fake is gone: never on the cooperative pool.
    func stopAndWait() { process.stopAndWait() }

    struct Call: @unchecked Sendable {
        // JSON values from JSONSerialization: read-only after decoding.
        let seq: Int
        let method: String
        let params: [String: Any]
        let files: [String: Any]
        let status: Int
        let ok: Bool
        let time: Double

        var text: String? { params["text"] as? String }
        var chatID: Int64? { (params["chat_id"] as? NSNumber)?.int64Value ?? (params["chat_id"] as? String).flatMap { Int64($0) } }
    }

    func calls(method: String? = nil) async throws -> [Call] {
        let path = "/__fake/calls" + (method.map { "?method=\($0)" } ?? "")
        let object = try await control("GET", path)
        let list = object["calls"] as? [[String: Any]] ?? []
        return list.map { entry in
            Call(
                seq: entry["seq"] as? Int ?? 0, method: entry["method"] as? String ?? "",
                params: entry["params"] as? [String: Any] ?? [:], files: entry["files"] as? [String: Any] ?? [:],
                status: entry["status"] as? Int ?? 0, ok: entry["ok"] as? Bool ?? false, time: entry["time"] as? Double ?? 0)
        }
    }

    /// Scripts the next `times` matching calls to answer with `respond` (see the fake's docs).
    func script(
        method: String? = nil, chatID: Int64? = nil, textContains: String? = nil, times: Int = 1, respond: [String: Any]
    ) async throws {
        var body: [String: Any] = ["times": times, "respond": respond]
        if let method { body["method"] = method }
        if let chatID { body["chat_id"] = chatID }
        if let textContains { body["text_contains"] = textContains }
        _ = try await control("POST", "/__fake/script", body)
    }

    /// Drops the scripts not used up yet: the fault they made ends.
    func clearScripts() async throws {
        _ = try await control("POST", "/__fake/script/clear", [:])
    }

    func registerFile(id: String, content: [UInt8], path: String? = nil) async throws {
        var body: [String: Any] = ["file_id": id, "content_base64": Data(content).base64EncodedString()]
        if let path { body["file_path"] = path }
        _ = try await control("POST", "/__fake/files", body)
    }

    func registerFile(id: String, size: Int) async throws {
        _ = try await control("POST", "/__fake/files", ["file_id": id, "size": size])
    }

    /// Queues updates for getUpdates; returns their ids.
    func queueUpdates(_ updates: [[String: Any]]) async throws -> [Int64] {
        let object = try await control("POST", "/__fake/updates", ["updates": updates])
        return (object["update_ids"] as? [NSNumber] ?? object["ids"] as? [NSNumber] ?? []).map(\.int64Value)
    }

    func setWebhookState(url: String) async throws {
        _ = try await control("POST", "/__fake/webhook", ["url": url])
    }

    func messages(chat chatID: Int64) async throws -> [[String: Any]] {
        let object = try await control("GET", "/__fake/chats/\(chatID)/messages")
        return object["messages"] as? [[String: Any]] ?? []
    }

    @discardableResult
    private func control(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await RawHTTPClient.request(
            port: port, method: method, path: path, headers: data == nil ? [:] : ["Content-Type": "application/json"],
            body: data.map { Array($0) } ?? [])
        guard response.status == 200 else {
            throw FakeServerProcess.StartError(description: "fake control \(path): \(response.status) \(response.bodyText)")
        }
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }
}

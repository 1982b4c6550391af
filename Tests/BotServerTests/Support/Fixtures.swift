import Foundation

/// Real Telegram updates (copied from shared/telegram/updates) for tests.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/updates")

    static func update(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name + ".json")))
    }

    /// The real samples; `synthetic_*` files were written by hand (edge cases no log had)
    /// and are listed by `syntheticUpdateNames`.
    static func allUpdateNames() throws -> [String] {
        try names().filter { !$0.hasPrefix("synthetic_") }
    }

    static func syntheticUpdateNames() throws -> [String] {
        try names().filter { $0.hasPrefix("synthetic_") }
    }

    private static func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }
            .map { String($0.dropLast(5)) }
            .sorted()
    }

    /// A realistic private text-message update with the given id (about 600 bytes).
    static func textUpdate(id: Int64, chatID: Int64 = 424242, text: String = "Please run the tests") -> [UInt8] {
        let json = """
            {"update_id":\(id),"message":{"message_id":\(id % 100000),"from":{"id":\(chatID),"is_bot":false,\
            "first_name":"Ada","last_name":"Lovelace","username":"ada","language_code":"en"},\
            "chat":{"id":\(chatID),"first_name":"Ada","last_name":"Lovelace","username":"ada","type":"private"},\
            "date":1764000000,"text":"\(text)"}}
            """
        return Array(json.utf8)
    }
}

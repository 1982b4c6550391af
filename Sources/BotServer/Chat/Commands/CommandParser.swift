/// A command as typed: "/cd Sources" → name "cd", arguments "Sources".
struct ParsedCommand: Sendable, Equatable {
    var name: String
    var arguments: String
    /// "@name" after the command, when the user addressed a bot.
    var addressee: String?
}

enum CommandParser {
    /// The command a message starts with. Telegram marks it with a bot_command entity at
    /// offset 0; without one (clients that do not, or a non-Latin "/команда") the text is
    /// read directly, so that nothing that looks like a command is sent to Claude by accident.
    static func parse(_ text: String, entities: [MessageEntity]?) -> ParsedCommand? {
        guard text.hasPrefix("/") else { return nil }
        let head: Substring
        if let entity = entities?.first(where: { $0.type == "bot_command" && $0.offset == 0 }) {
            head = Substring(text.utf16.prefix(entity.length).map { $0 }.withUnsafeBufferPointer { String(decoding: $0, as: UTF16.self) })
        } else {
            head = text.prefix { !$0.isWhitespace }
        }
        guard head.count > 1 else { return nil }
        let rest = text.dropFirst(head.count).drop { $0.isWhitespace }
        var name = String(head.dropFirst())
        var addressee: String?
        if let at = name.firstIndex(of: "@") {
            addressee = String(name[name.index(after: at)...])
            name = String(name[..<at])
        }
        guard !name.isEmpty else { return nil }
        return ParsedCommand(name: name.lowercased(), arguments: String(rest).trimmingWhitespace(), addressee: addressee)
    }
}

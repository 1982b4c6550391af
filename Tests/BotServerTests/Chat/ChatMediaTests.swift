import ClaudeRunner
import Foundation
import Testing
import TestSupport

@testable import BotServer

/// Photos, documents and voice notes as prompts, and files back with /get.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatMediaTests {
    /// A valid 2×2 PNG (the CLI reads an image's dimensions before it sends it), made here
    /// with zlib and CRC-32 from Python's standard library.
    static let png: [UInt8] = {
        let script = """
            import struct, sys, zlib
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
            raw = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * 2 for _ in range(2))
            png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
            sys.stdout.write(png.hex())
            """
        let (_, hex) = try! ChildProcess.run(["python3", "-c", script])
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }()
    static let jpeg = png

    /// A real 2×2 grey baseline JPEG (what Telegram sends for photos), 159 bytes, written by
    /// hand: SOI, JFIF APP0, one quantisation table of 1s, SOF0 (8 bit, 2×2, one component),
    /// a DC and an AC Huffman table with a single 1-bit code each (DC category 0, EOB), SOS,
    /// the one block's entropy data (bits 0 0, padded with 1s: 0x3F), EOI.
    static let realJPEG: [UInt8] = {
        let hex = "ffd8ffe000104a46494600010100000100010000"
            + "ffdb004300" + String(repeating: "01", count: 64)
            + "ffc0000b080002000201011100"
            + "ffc40014000100000000000000000000000000000000"
            + "ffc40014100100000000000000000000000000000000"
            + "ffda0008010100003f00" + "3f" + "ffd9"
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }()

    private static func photo(_ id: String, size: Int) -> [[String: Any]] {
        [["file_id": id + "-small", "file_unique_id": id + "s", "width": 90, "height": 90, "file_size": 100],
         ["file_id": id, "file_unique_id": id + "u", "width": 1280, "height": 960, "file_size": size]]
    }

    @Test func aPhotoWithACaptionReachesClaudeAsAnImageAndIsSavedOutOfGit() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        _ = try await offCooperativePool { try ChildProcess.run(["git", "init", "-q", harness.project]) }
        try await harness.bot.registerFile(id: "photo-big", content: Self.jpeg, path: "photos/file_1.jpg")
        try await harness.bot.registerFile(id: "photo-big-small", content: [0xFF, 0xD8], path: "photos/file_0.jpg")
        try await harness.anthropic.script([["text": "A tiny test image."]])
        let (status, log) = try await harness.run { _ in
            let id = try await harness.sendMedia(["photo": Self.photo("photo-big", size: Self.jpeg.count)], caption: "What is this?")
            #expect(try await harness.waitForMessage(containing: "A tiny test image.") != nil)
            let saved = harness.project + "/.telegram-uploads/photo-\(id).jpg"
            #expect(FileManager.default.contents(atPath: saved).map(Array.init) == Self.jpeg)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let request = try #require(try await harness.anthropic.mainRequests().last)
        // Every block the CLI sent, whichever message it put it in.
        let content = (request["body"]?["messages"]?.array ?? []).flatMap { $0["content"]?.array ?? [] }
        let image = try #require(content.first { $0["type"]?.string == "image" })
        #expect(image["source"]?["data"]?.string == Data(Self.jpeg).base64EncodedString())
        #expect(image["source"]?["media_type"]?.string == "image/png")
        #expect(request.description.contains("What is this?") && request.description.contains(".telegram-uploads/photo-"))
        let exclude = try String(contentsOfFile: harness.project + "/.git/info/exclude", encoding: .utf8)
        #expect(exclude.contains("/.telegram-uploads/"))
    }

    /// A photo as Telegram really sends it, JPEG bytes, reaches Claude as an image/jpeg block.
    @Test func aJPEGPhotoReachesClaudeAsAnImageJPEG() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.bot.registerFile(id: "photo-jpeg", content: Self.realJPEG, path: "photos/file_2.jpg")
        try await harness.bot.registerFile(id: "photo-jpeg-small", content: Self.realJPEG, path: "photos/file_3.jpg")
        try await harness.anthropic.script([["text": "A grey square."]])
        let (status, log) = try await harness.run { _ in
            try await harness.sendMedia(["photo": Self.photo("photo-jpeg", size: Self.realJPEG.count)], caption: "Describe it")
            #expect(try await harness.waitForMessage(containing: "A grey square.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let request = try #require(try await harness.anthropic.mainRequests().last)
        let content = (request["body"]?["messages"]?.array ?? []).flatMap { $0["content"]?.array ?? [] }
        let image = try #require(content.first { $0["type"]?.string == "image" })
        #expect(image["source"]?["media_type"]?.string == "image/jpeg")
        #expect(image["source"]?["data"]?.string == Data(Self.realJPEG).base64EncodedString())
    }

    @Test func documentsAreSavedUnderSafeNamesAndJoinTheNextPrompt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let hostile = ["../../x", "evil\u{0}name.txt", "line\nbreak.txt", String(repeating: "a", count: 300) + ".csv", "report.txt", "report.txt"]
        for index in hostile.indices {
            try await harness.bot.registerFile(id: "doc-\(index)", content: Array("content \(index)".utf8), path: "documents/file_\(index)")
        }
        try await harness.bot.registerFile(id: "huge", size: 25 * 1024 * 1024)
        // Claude reads one of them: with CLAUDE_USER, as another user than the bot that saved it.
        try await harness.anthropic.script([
            ["text": "Reading.", "tool_use": ["name": "Read", "input": ["file_path": .string(harness.project + "/.telegram-uploads/report-2.txt")]]],
            ["text": "Read them all."],
        ])
        let (status, log) = try await harness.run { _ in
            for (index, name) in hostile.enumerated() {
                try await harness.sendMedia(["document": ["file_id": "doc-\(index)", "file_unique_id": "u\(index)", "file_name": name, "file_size": 9]])
                #expect(try await harness.waitForCall("sendMessage") { ($0.text ?? "").contains("What should Claude do") && $0.seq > 0 } != nil)
            }
            #expect(await eventually(within: .seconds(15)) {
                ((try? FileManager.default.contentsOfDirectory(atPath: harness.project + "/.telegram-uploads")) ?? []).count == hostile.count
            })
            try await harness.sendMedia(["document": ["file_id": "huge", "file_unique_id": "h", "file_name": "big.iso", "file_size": 25 * 1024 * 1024]])
            #expect(try await harness.waitForMessage(containing: "bots can fetch at most 20.0 MB") != nil)
            try await harness.send("Summarise these")
            #expect(try await harness.waitForMessage(containing: "Read them all.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let names = try FileManager.default.contentsOfDirectory(atPath: harness.project + "/.telegram-uploads").sorted()
        #expect(names.allSatisfy { !$0.contains("/") && !$0.contains("\n") && !$0.contains("\u{0}") && !$0.hasPrefix(".") && $0.count <= 120 }, "\(names)")
        #expect(names.contains("x") && names.contains("report.txt") && names.contains("report-2.txt"), "\(names)")
        #expect(names.contains { $0.hasSuffix(".csv") && $0.count == 120 })
        #expect(!FileManager.default.fileExists(atPath: harness.directory.path + "/x"))
        let requests = try await harness.anthropic.mainRequests()
        let request = try #require(requests.first).description
        #expect(request.contains("Summarise these") && request.contains(".telegram-uploads/report-2.txt"))
        #expect(requests.count == 2)  // the files waited for the prompt; then the Read's result
        #expect(requests.last?.description.contains("content 5") == true, "Claude could read the upload: \(requests.last?.description.suffix(1500) ?? "")")
    }

    @Test func aVoiceNoteIsTranscribedShownAndRun() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let transcription = try await FakeServerProcess.start(
            script: "fake_transcription_api.py", arguments: ["--port", "0", "--text", "Please list the files in this project.", "--key", "tk-test"])
        defer { transcription.stop() }
        let ogg: [UInt8] = Array("OggS".utf8) + Array(repeating: 7, count: 5000)
        try await harness.bot.registerFile(id: "voice-1", content: ogg, path: "voice/file_9.oga")
        try await harness.anthropic.script([["text": "Here are the files."]])
        let (status, log) = try await harness.run([
            "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:\(transcription.port)", "TRANSCRIPTION_API_KEY": "tk-test",
            "TRANSCRIPTION_MODEL": "whisper-large-v3",
        ]) { _ in
            try await harness.sendMedia(["voice": ["file_id": "voice-1", "file_unique_id": "v1", "duration": 2, "mime_type": "audio/ogg", "file_size": ogg.count]])
            let shown = try #require(try await harness.waitForMessage(containing: "Please list the files in this project."))
            #expect((shown["raw_text"] as? String)?.contains("<blockquote>") == true)
            #expect(try await harness.waitForMessage(containing: "Here are the files.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let response = try await RawHTTPClient.request(port: transcription.port, path: "/__fake/requests")
        let recorded = try #require((try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["requests"] as? [[String: Any]])
        #expect(recorded.count == 1)
        #expect(recorded.first?["model"] as? String == "whisper-large-v3")
        #expect(recorded.first?["authorization"] as? String == "Bearer tk-test")
        #expect(recorded.first?["size"] as? Int == ogg.count)
        #expect(recorded.first?["sha256"] as? String == Digest.hex(Digest.sha256(ogg)))
        #expect(try await harness.anthropic.mainRequests().last?.description.contains("Please list the files in this project.") == true)
    }

    static var speechToolsInstalled: Bool {
        ["espeak-ng", "opusenc"].allSatisfy { tool in
            (try? ChildProcess.run(["sh", "-c", "command -v \(tool)"]).status) == 0
        }
    }

    /// Real speech: espeak-ng says it, opusenc makes the OGG/Opus a phone sends, and those
    /// exact bytes go through getFile, the download and the multipart upload. A text that
    /// replies to the note is put in front of its transcript.
    @Test(.enabled(if: ChatMediaTests.speechToolsInstalled, "scripts/install-dependencies.sh installs espeak-ng and opus-tools"))
    func aRealSpokenNoteTravelsTheWholePathAndARepliedTextJoinsIt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let wav = harness.directory.path + "/speech.wav", ogg = harness.directory.path + "/speech.ogg"
        let made = try await offCooperativePool { () throws -> Int32 in
            let spoken = try ChildProcess.run(["espeak-ng", "-w", wav, "list the files in this project"])
            guard spoken.status == 0 else { return spoken.status }
            return try ChildProcess.run(["opusenc", "--quiet", wav, ogg]).status
        }
        #expect(made == 0)
        let audio = try #require(FileManager.default.contents(atPath: ogg).map(Array.init))
        #expect(audio.starts(with: Array("OggS".utf8)) && String(decoding: audio.prefix(200), as: UTF8.self).contains("OpusHead"))
        try await harness.bot.registerFile(id: "spoken", content: audio, path: "voice/spoken.oga")
        let transcription = try await FakeServerProcess.start(
            script: "fake_transcription_api.py", arguments: ["--port", "0", "--text", "list the files in this project", "--key", "tk-spoken"])
        defer { transcription.stop() }
        try await harness.anthropic.script([["text": "Listed."], ["text": "Listed again."]])
        let voice: [String: Any] = ["voice": ["file_id": "spoken", "file_unique_id": "s", "duration": 2, "mime_type": "audio/ogg", "file_size": audio.count]]
        let (status, log) = try await harness.run([
            "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:\(transcription.port)/v1", "TRANSCRIPTION_API_KEY": "tk-spoken",
        ]) { _ in
            let noteID = try await harness.sendMedia(voice)
            #expect(try await harness.waitForMessage(containing: "Listed.") != nil)
            try await harness.replyToOwn(noteID, text: "and count them", voice: voice)
            #expect(try await harness.waitForMessage(containing: "Listed again.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let response = try await RawHTTPClient.request(port: transcription.port, path: "/__fake/requests")
        let recorded = (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
        #expect(recorded.count == 2 && recorded.allSatisfy { $0["sha256"] as? String == Digest.hex(Digest.sha256(audio)) })
        #expect(recorded.first?["content_type"] as? String == "audio/ogg")
        let last = try #require(try await harness.anthropic.mainRequests().last).description
        #expect(last.contains("and count them\\n\\nlist the files in this project"), "\(last.suffix(800))")
    }

    @Test func voiceWithoutABackendOrWithAFailingOneRunsNothing() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let failing = try await FakeServerProcess.start(script: "fake_transcription_api.py", arguments: ["--port", "0", "--status", "500"])
        defer { failing.stop() }
        try await harness.bot.registerFile(id: "voice-2", content: Array("OggS....".utf8), path: "voice/file_2.oga")
        let voice: [String: Any] = ["voice": ["file_id": "voice-2", "file_unique_id": "v2", "duration": 1, "mime_type": "audio/ogg", "file_size": 8]]
        try await harness.run { _ in
            try await harness.sendMedia(voice)
            #expect(try await harness.waitForMessage(containing: "set TRANSCRIPTION_API_BASE_URL") != nil)
        }
        try await harness.run(["TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:\(failing.port)"]) { _ in
            try await harness.sendMedia(voice)
            #expect(try await harness.waitForMessage(containing: "could not be transcribed (HTTP 500") != nil)
        }
        #expect(try await harness.anthropic.mainRequests().isEmpty)
    }

    /// A service that wants a key, as OpenAI and Groq do: a wrong key and a missing one each get
    /// one sentence naming TRANSCRIPTION_API_KEY (not the service's paragraph, nor the key), and
    /// nothing reaches Claude.
    @Test func aTranscriptionKeyThatIsWrongOrMissingIsSaidInOneSentence() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let transcription = try await FakeServerProcess.start(script: "fake_transcription_api.py", arguments: ["--port", "0", "--key", "tk-right-0123"])
        defer { transcription.stop() }
        try await harness.bot.registerFile(id: "voice-4", content: Array("OggS....".utf8), path: "voice/file_4.oga")
        let voice: [String: Any] = ["voice": ["file_id": "voice-4", "file_unique_id": "v4", "duration": 1, "mime_type": "audio/ogg", "file_size": 8]]
        let base = "http://127.0.0.1:\(transcription.port)"
        let wrong = "The transcription service refused the key in TRANSCRIPTION_API_KEY (HTTP 401), so the voice note was not transcribed. Nothing was sent to Claude."
        let missing = "The transcription service wants a key: set TRANSCRIPTION_API_KEY (HTTP 401). Nothing was sent to Claude."
        try await harness.run(["TRANSCRIPTION_API_BASE_URL": base, "TRANSCRIPTION_API_KEY": "tk-wrong-4567"]) { _ in
            try await harness.sendMedia(voice)
            let told = try await harness.waitForMessage(containing: "TRANSCRIPTION_API_KEY")
            #expect(told?["text"] as? String == "⚠️ " + wrong)
        }
        try await harness.run(["TRANSCRIPTION_API_BASE_URL": base]) { _ in
            try await harness.sendMedia(voice)
            let told = try await harness.waitForMessage(containing: "wants a key")
            #expect(told?["text"] as? String == "⚠️ " + missing)
        }
        let response = try await RawHTTPClient.request(port: transcription.port, path: "/__fake/requests")
        let recorded = (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
        #expect(recorded.count == 2 && recorded.allSatisfy { $0["refused"] as? Bool == true }, "\(recorded)")
        #expect(recorded.first?["authorization"] as? String == "Bearer tk-wrong-4567")
        let sent = try await harness.bot.calls().map { "\($0.params)" }.joined()
        #expect(!sent.contains("tk-wrong") && !sent.contains("platform.openai.com") && !sent.contains("didn't provide"))
        #expect(try await harness.anthropic.mainRequests().isEmpty)
    }

    @Test func aLocalCommandCanTranscribeWithoutAShellNorTheBotsEnvironment() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        // A script around `cat` stands in for whisper.cpp: the "transcript" is the file's
        // content, and the script writes down the environment it was given.
        let script = harness.directory.path + "/transcribe"
        // Where the bot may write in every isolation mode: its own data folder.
        let record = harness.dataDirectory + "/transcribe-environment"
        try "#!/bin/sh\nenv > '\(record)'\nexec cat \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try await harness.bot.registerFile(id: "voice-3", content: Array("Run the tests; then stop.".utf8), path: "voice/file_3.oga")
        try await harness.anthropic.script([["text": "Tests ran."]])
        let (status, log) = try await harness.run(["TRANSCRIPTION_COMMAND": "\(script) {input}", "LANG": "C.UTF-8"]) { _ in
            try await harness.sendMedia(["voice": ["file_id": "voice-3", "file_unique_id": "v3", "duration": 1, "mime_type": "audio/ogg", "file_size": 25]])
            #expect(try await harness.waitForMessage(containing: "Run the tests; then stop.") != nil)
            #expect(try await harness.waitForMessage(containing: "Tests ran.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        // PATH, HOME and LANG, never the bot's token, its webhook secret or anything else of its own.
        let seen = try String(contentsOfFile: record, encoding: .utf8)
        #expect(!seen.contains(BotProcess.token) && !seen.contains(BotProcess.secret), "\(seen)")
        let names = Set(seen.split(separator: "\n").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        #expect(names.isSuperset(of: ["PATH", "LANG"]), "\(names.sorted())")
        #expect(names.isDisjoint(with: harness.environment().keys.filter { !["PATH", "HOME", "LANG"].contains($0) }), "\(names.sorted())")
    }

    @Test func aFileClaudeWroteCanBeFetchedWithAButton() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([
            ["text": "Drawing.", "tool_use": ["name": "Write", "input": ["file_path": .string(harness.project + "/out/chart.svg"), "content": "<svg/>"]]],
            ["text": "The chart is in out/chart.svg."],
        ])
        let (status, log) = try await harness.run { _ in
            try await harness.send("/mode acceptEdits")
            #expect(try await harness.waitForMessage(containing: "Mode is now acceptEdits") != nil)
            try await harness.send("Draw a chart")
            let answer = try #require(try await harness.waitForMessage(containing: "The chart is in"))
            try await harness.tap(try #require(ChatHarness.button("chart.svg", in: answer)), on: ChatHarness.messageID(answer))
            let sent = try #require(try await harness.waitForCall("sendDocument"))
            #expect((sent.files["document"] as? [String: Any])?["filename"] as? String == "chart.svg")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func getSendsProjectFilesAndRefusesTheRest() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try "a report".write(toFile: harness.project + "/report.md", atomically: true, encoding: .utf8)
        #expect(FileManager.default.createFile(atPath: harness.project + "/chart.png", contents: Data(Self.jpeg)))
        let big = harness.project + "/big.bin"
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: 51 * 1024 * 1024)
        try handle.close()
        let (status, log) = try await harness.run { _ in
            try await harness.send("/get report.md")
            let document = try #require(try await harness.waitForCall("sendDocument"))
            #expect((document.files["document"] as? [String: Any])?["filename"] as? String == "report.md")
            try await harness.send("/get chart.png")
            #expect(try await harness.waitForCall("sendPhoto") != nil)
            try await harness.send("/get ../../../etc/passwd")
            #expect(try await harness.waitForMessage(containing: "not allowed") != nil)
            try await harness.send("/get big.bin")
            #expect(try await harness.waitForMessage(containing: "bots can send at most 50 MB") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func anAlbumIsOnePromptWithEveryImage() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        for index in 0..<3 {
            try await harness.bot.registerFile(id: "album-\(index)", content: Self.png, path: "photos/a\(index).jpg")
        }
        try await harness.anthropic.script([["text": "Three pictures."]])
        let (status, log) = try await harness.run { _ in
            for index in 0..<3 {
                let photo: [[String: Any]] = [["file_id": "album-\(index)", "file_unique_id": "a\(index)", "width": 800, "height": 600, "file_size": 30]]
                try await harness.sendMedia(["photo": photo], caption: index == 0 ? "Compare these" : nil, mediaGroup: "album-42")
            }
            #expect(try await harness.waitForMessage(containing: "Three pictures.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let requests = try await harness.anthropic.mainRequests()
        #expect(requests.count == 1)
        let content = (requests.last?["body"]?["messages"]?.array ?? []).flatMap { $0["content"]?.array ?? [] }
        #expect(content.filter { $0["type"]?.string == "image" }.count == 3)
    }
}

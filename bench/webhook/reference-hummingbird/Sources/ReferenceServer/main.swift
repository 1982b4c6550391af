// Reference webhook server for bench/webhook (see bench/README.md).
//
//   GET  /healthz          -> 200 "ok"
//   POST /telegram/webhook -> 401 on a missing or wrong X-Telegram-Bot-Api-Secret-Token
//                             (constant-time comparison), 400 when the body does not
//                             decode as an update, else 200 with an empty body.
//
// Environment: PORT (8080), LISTEN_HOST (127.0.0.1), TELEGRAM_WEBHOOK_SECRET (required),
// LOG_LEVEL (warning). Stops gracefully on SIGTERM/SIGINT.
import Foundation
import HTTPTypes
import Hummingbird
import Logging

struct Update: Decodable {
    let update_id: Int64
}

/// Compares in time that depends only on the length of `secret`.
func constantTimeEquals(_ given: some Collection<UInt8>, _ secret: [UInt8]) -> Bool {
    let given = Array(given)
    var difference = UInt(bitPattern: given.count ^ secret.count)
    for index in secret.indices {
        let byte = index < given.count ? given[index] : 0
        difference |= UInt(byte ^ secret[index])
    }
    return difference == 0
}

let environment = ProcessInfo.processInfo.environment
let host = environment["LISTEN_HOST"] ?? "127.0.0.1"
guard let port = Int(environment["PORT"] ?? "8080") else {
    FileHandle.standardError.write(Data("PORT: not a number\n".utf8))
    exit(2)
}
guard let secret = environment["TELEGRAM_WEBHOOK_SECRET"], !secret.isEmpty else {
    FileHandle.standardError.write(Data("TELEGRAM_WEBHOOK_SECRET: required\n".utf8))
    exit(2)
}
let secretBytes = Array(secret.utf8)
let secretHeader = HTTPField.Name("X-Telegram-Bot-Api-Secret-Token")!

var logger = Logger(label: "reference-hummingbird")
logger.logLevel = Logger.Level(rawValue: environment["LOG_LEVEL"] ?? "warning") ?? .warning

let router = Router()
router.get("/healthz") { _, _ in
    "ok"
}
router.post("/telegram/webhook") { request, _ -> Response in
    guard let given = request.headers[secretHeader], constantTimeEquals(given.utf8, secretBytes) else {
        return Response(status: .unauthorized)
    }
    let body = try await request.body.collect(upTo: 1 << 20)
    do {
        _ = try JSONDecoder().decode(Update.self, from: Data(body.readableBytesView))
    } catch {
        return Response(status: .badRequest)
    }
    return Response(status: .ok)
}

let app = Application(
    router: router,
    configuration: .init(address: .hostname(host, port: port), serverName: nil),
    logger: logger
)
try await app.runService()

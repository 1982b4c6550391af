// libFuzzer entry point for the HTTP/1.1 request parser. Built by fuzz/run.sh together with
// Sources/HTTPCore/Parsing and Sources/HTTPCore/Messages (one module, no SwiftPM).
//
// Each input is one byte stream (so the corpus holds plain requests). Its first byte also picks
// the limits (bit 3: small limits, to reach every limit path) and how the stream is cut into
// pieces (low 3 bits: pattern, high 4 bits: piece size). The stream is parsed whole and in
// pieces; both must give the same outcome: the same requests, or the same error status.
// Crashes, traps and sanitizer reports are findings too.

private enum Outcome: Equatable {
    /// Completed requests in canonical form, and how a probe request fed afterwards came out
    /// (which captures any partial request left in the parser).
    case requests([String], probe: String)
    case failed(status: Int)
}

private func describe(_ request: HTTPRequest, maxBodyLength: Int) -> String {
    precondition(request.body.count <= maxBodyLength, "body longer than the maximum")
    let head = request.head
    precondition(!head.path.isEmpty && (head.path.first == "/" || head.path == "*"), "invalid path \(head.path)")
    if case .contentLength(let length) = head.framing {
        precondition(length == request.body.count, "Content-Length body of the wrong length")
    }
    var text = "\(head.method.rawValue) \(head.target) \(head.path) \(head.query ?? "<nil>") \(head.version)"
    for field in head.headers { text += "|\(field.name)=\(field.value)" }
    text += " \(head.framing) \(head.keepAlive) \(head.expectsContinue) \(request.body)"
    return text
}

private func outcome(_ stream: [UInt8], cuts: [Int], limits: HTTPParserLimits, maxBodyLength: Int) -> Outcome {
    var parser = HTTPRequestStreamParser(limits: limits, maxBodyLength: maxBodyLength)
    var requests: [String] = []
    var start = 0
    do {
        for end in cuts + [stream.count] {
            requests += try parser.feed(stream[start..<end]).map { describe($0, maxBodyLength: maxBodyLength) }
            start = end
        }
    } catch {
        // Once failed, the parser must keep failing with the same error.
        do {
            _ = try parser.feed([UInt8(ascii: "G")])
            preconditionFailure("a failed parser accepted more input")
        } catch let again {
            precondition(again == error, "a failed parser changed its error")
        }
        return .failed(status: error.status.code)
    }
    let probe: String
    do {
        let probed = try parser.feed(Array("GET /probe HTTP/1.1\r\nHost: p\r\n\r\n".utf8))
        probe = probed.map { describe($0, maxBodyLength: maxBodyLength) }.joined(separator: "\n")
    } catch {
        probe = "failed \(error.status.code)"
    }
    return .requests(requests, probe: probe)
}

/// FNV-1a, to derive a reproducible seed from the input itself.
private func hash(_ bytes: [UInt8]) -> UInt64 {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return value
}

private func cuts(for stream: [UInt8], selector: UInt8) -> [Int] {
    let count = stream.count
    guard count > 1 else { return [] }
    let pieceSizes = [1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 100, 127, 256, 1024, 4096]
    let maxPiece = pieceSizes[Int(selector >> 4)]
    var state = hash(stream)
    func random(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
    switch selector & 0x07 {
    case 0:
        return Array(1..<count)  // one byte at a time
    case 1:
        return [1 + random(count - 1)]  // two pieces
    case 2:
        return Array(stride(from: maxPiece, to: count, by: maxPiece))  // fixed-size pieces
    default:
        var result: [Int] = []
        var position = 0
        while true {
            position += 1 + random(maxPiece)
            if position >= count { return result }
            result.append(position)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let stream = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = stream.first else { return 0 }

    var limits = HTTPParserLimits()
    var maxBodyLength = 1 << 16
    if selector & 0x08 != 0 {
        limits.maxRequestLineLength = 48
        limits.maxHeadLength = 200
        limits.maxHeaderCount = 6
        limits.maxChunkMetadataLength = 40
        maxBodyLength = 100
    }

    let whole = outcome(stream, cuts: [], limits: limits, maxBodyLength: maxBodyLength)
    let pieces = cuts(for: stream, selector: selector)
    let split = outcome(stream, cuts: pieces, limits: limits, maxBodyLength: maxBodyLength)
    precondition(whole == split, "split changed the outcome: whole \(whole), split \(split), cuts \(pieces)")
    return 0
}

/// A multipart/form-data body (RFC 7578) whose file parts are streamed from disk.
public struct MultipartFormData: Sendable {
    public let boundary: String
    private var segments: [HTTPClientRequest.BodySegment] = []

    public init(boundary: String = MultipartFormData.randomBoundary()) {
        self.boundary = boundary
    }

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    public mutating func addField(_ name: String, _ value: String) {
        segments.append(.bytes(Array(partHeader(name: name, filename: nil, contentType: nil).utf8) + Array(value.utf8) + [13, 10]))
    }

    /// A file part read from `path` while the request is sent. `size` is checked then.
    public mutating func addFile(_ name: String, filename: String, contentType: String, path: String, size: Int) {
        segments.append(.bytes(Array(partHeader(name: name, filename: filename, contentType: contentType).utf8)))
        segments.append(.file(path: path, size: size))
        segments.append(.bytes([13, 10]))
    }

    public mutating func addFile(_ name: String, filename: String, contentType: String, bytes: [UInt8]) {
        segments.append(.bytes(Array(partHeader(name: name, filename: filename, contentType: contentType).utf8) + bytes + [13, 10]))
    }

    /// The request body, closing delimiter included.
    public var body: HTTPClientRequest.Body {
        .segments(segments + [.bytes(Array("--\(boundary)--\r\n".utf8))])
    }

    private func partHeader(name: String, filename: String?, contentType: String?) -> String {
        var header = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(Self.quoted(name))\""
        if let filename { header += "; filename=\"\(Self.quoted(filename))\"" }
        header += "\r\n"
        if let contentType { header += "Content-Type: \(contentType)\r\n" }
        return header + "\r\n"
    }

    /// Quotes, backslashes and line breaks would end or forge the header: percent-encode them,
    /// as browsers do (the HTML standard's multipart encoding).
    private static func quoted(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "%22"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            case "\\": out += "%5C"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// 32 random hex digits: a boundary that no file's content will contain by chance.
    public static func randomBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return "bot-boundary-" + String((0..<32).map { _ in digits[Int(generator.next() % 16)] })
    }
}

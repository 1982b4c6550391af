/// Decodes a request body framed by Content-Length or the chunked transfer coding
/// (RFC 9112 §6.3, §7.1), never consuming bytes that belong to the next request.
///
/// Chunk metadata (size lines, extensions, trailers) is decoded by a byte-at-a-time state
/// machine that consumes what it has read, so nothing is ever buffered or scanned twice and
/// the outcome does not depend on how the input is split. Errors are raised at the byte that
/// makes the body invalid:
/// - chunk-size: 1–15 hex digits, directly followed by `;` or CRLF (no whitespace) → else 400;
/// - chunk extensions: `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`,
///   skipped; all extensions of the body together may take `maxChunkMetadataLength` bytes → else 400;
/// - chunk data must be followed by exactly CRLF → else 400;
/// - trailer fields are validated like header fields and dropped; the trailer section (all
///   trailer lines and the final CRLF) may take `maxChunkMetadataLength` bytes → else 431,
///   as for an oversized header section;
/// - payload beyond `maxBodyLength` → 413, raised at the hex digit that makes a chunk size
///   exceed what remains allowed, or at the first call for a Content-Length above the maximum.
public struct HTTPBodyDecoder: Sendable {
    private enum State: Sendable {
        case fixed(remaining: Int)
        /// Hex digits of a chunk size (none yet, or some).
        case chunkSize
        case chunkExtension(ExtensionState)
        /// The LF ending a chunk-size line.
        case chunkSizeLF
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLineLF
        /// The LF of the blank line ending the trailer section.
        case trailerEndLF
        case done
        case failed(HTTPParseError)
    }

    private enum ExtensionState: Sendable {
        case beforeName, name, afterName, beforeValue, tokenValue, quotedValue, quotedPair, afterQuotedValue,
            afterValue
    }

    private var state: State
    private let maxBodyLength: Int
    private let maxMetadataLength: Int
    /// Payload announced so far (chunk sizes, including the chunk being read).
    private var bodyLength = 0
    private var chunkSize = 0
    private var chunkSizeDigits = 0
    private var extensionLength = 0
    private var trailerLength = 0

    /// True once the whole body has been decoded: at once for `.none` and `.contentLength(0)`.
    public private(set) var isComplete: Bool

    public init(framing: BodyFraming, maxBodyLength: Int, limits: HTTPParserLimits = .init()) {
        self.maxBodyLength = max(0, maxBodyLength)
        self.maxMetadataLength = max(0, limits.maxChunkMetadataLength)
        isComplete = false
        switch framing {
        case .none, .contentLength(0):
            state = .done
            isComplete = true
        case .contentLength(let length) where length < 0:
            state = .failed(HTTPParseError(.badRequest, "invalid Content-Length"))
        case .contentLength(let length) where length > self.maxBodyLength:
            state = .failed(HTTPParseError(.contentTooLarge, "request body too large"))
        case .contentLength(let length):
            state = .fixed(remaining: length)
        case .chunked:
            state = .chunkSize
        }
    }

    /// Consumes body bytes from the front of `bytes`, appending payload to `body`. Returns how many
    /// bytes were consumed. Never consumes past the end of this body (later bytes belong to the next
    /// pipelined request). After an error, every call throws it again.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, into body: inout [UInt8]) throws(HTTPParseError)
        -> Int
    {
        do {
            return try decodeUnlessFailed(bytes, into: &body)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func decodeUnlessFailed(_ bytes: UnsafeRawBufferPointer, into body: inout [UInt8])
        throws(HTTPParseError) -> Int
    {
        var offset = 0
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .done:
                isComplete = true
                return offset

            case .fixed(let remaining):
                let take = min(remaining, bytes.count - offset)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                guard take == remaining else {
                    state = .fixed(remaining: remaining - take)
                    return offset
                }
                state = .done

            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - offset)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                guard take == remaining else {
                    state = .chunkData(remaining: remaining - take)
                    return offset
                }
                state = .chunkDataCR

            default:
                guard offset < bytes.count else { return offset }
                try step(bytes[offset])
                offset += 1
            }
        }
    }

    /// Advances the metadata state machine by one byte.
    private mutating func step(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .chunkSize:
            if let digit = HTTPSyntax.hexValue(byte) {
                guard chunkSizeDigits < 15 else { throw HTTPParseError(.badRequest, "chunk size too long") }
                chunkSizeDigits += 1
                chunkSize = chunkSize << 4 | digit
                if chunkSize > maxBodyLength - bodyLength {
                    throw HTTPParseError(.contentTooLarge, "request body too large")
                }
            } else if chunkSizeDigits == 0 {
                throw HTTPParseError(.badRequest, "invalid chunk size")
            } else if byte == .semicolon {
                try countExtensionByte()
                state = .chunkExtension(.beforeName)
            } else if byte == .cr {
                state = .chunkSizeLF
            } else {
                throw HTTPParseError(.badRequest, "invalid chunk size")
            }

        case .chunkExtension(let position):
            if byte == .cr {
                switch position {
                case .name, .tokenValue, .afterQuotedValue: state = .chunkSizeLF
                default: throw HTTPParseError(.badRequest, "invalid chunk extension")
                }
                return
            }
            try countExtensionByte()
            state = .chunkExtension(try Self.nextExtensionState(position, byte))

        case .chunkSizeLF:
            guard byte == .lf else { throw HTTPParseError(.badRequest, "bare CR in chunk size line") }
            if chunkSize == 0 {
                state = .trailerLineStart
            } else {
                bodyLength += chunkSize
                state = .chunkData(remaining: chunkSize)
                chunkSize = 0
                chunkSizeDigits = 0
            }

        case .chunkDataCR:
            guard byte == .cr else { throw HTTPParseError(.badRequest, "chunk data not followed by CRLF") }
            state = .chunkDataLF

        case .chunkDataLF:
            guard byte == .lf else { throw HTTPParseError(.badRequest, "chunk data not followed by CRLF") }
            state = .chunkSize

        case .trailerLineStart:
            try countTrailerByte()
            if byte == .cr {
                state = .trailerEndLF
            } else if HTTPSyntax.isTokenCharacter(byte) {
                state = .trailerName
            } else if HTTPSyntax.isWhitespace(byte) {
                throw HTTPParseError(.badRequest, "obsolete line folding in trailer")
            } else {
                throw HTTPParseError(.badRequest, "invalid trailer field name")
            }

        case .trailerName:
            try countTrailerByte()
            if byte == .colon {
                state = .trailerValue
            } else if !HTTPSyntax.isTokenCharacter(byte) {
                throw HTTPParseError(.badRequest, "invalid trailer field name")
            }

        case .trailerValue:
            try countTrailerByte()
            if byte == .cr {
                state = .trailerLineLF
            } else if !HTTPSyntax.isFieldValueCharacter(byte) {
                throw HTTPParseError(.badRequest, "invalid character in trailer field value")
            }

        case .trailerLineLF:
            try countTrailerByte()
            guard byte == .lf else { throw HTTPParseError(.badRequest, "bare CR in trailer section") }
            state = .trailerLineStart

        case .trailerEndLF:
            try countTrailerByte()
            guard byte == .lf else { throw HTTPParseError(.badRequest, "bare CR in trailer section") }
            state = .done

        case .fixed, .chunkData, .done, .failed:
            preconditionFailure("bulk states are handled by decode")
        }
    }

    private mutating func countExtensionByte() throws(HTTPParseError) {
        extensionLength += 1
        if extensionLength > maxMetadataLength {
            throw HTTPParseError(.badRequest, "chunk extensions too long")
        }
    }

    private mutating func countTrailerByte() throws(HTTPParseError) {
        trailerLength += 1
        if trailerLength > maxMetadataLength {
            throw HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section too large")
        }
    }

    /// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`,
    /// `chunk-ext-val = token / quoted-string` (RFC 9112 §7.1.1). CR is handled by the caller.
    private static func nextExtensionState(_ position: ExtensionState, _ byte: UInt8) throws(HTTPParseError)
        -> ExtensionState
    {
        let isToken = HTTPSyntax.isTokenCharacter(byte)
        let isWhitespace = HTTPSyntax.isWhitespace(byte)
        switch position {
        case .beforeName:
            if isWhitespace { return .beforeName }
            if isToken { return .name }
        case .name:
            if isToken { return .name }
            if isWhitespace { return .afterName }
            if byte == .equals { return .beforeValue }
            if byte == .semicolon { return .beforeName }
        case .afterName:
            if isWhitespace { return .afterName }
            if byte == .equals { return .beforeValue }
            if byte == .semicolon { return .beforeName }
        case .beforeValue:
            if isWhitespace { return .beforeValue }
            if isToken { return .tokenValue }
            if byte == .quote { return .quotedValue }
        case .tokenValue:
            if isToken { return .tokenValue }
            if isWhitespace { return .afterValue }
            if byte == .semicolon { return .beforeName }
        case .quotedValue:
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            if byte == .quote { return .afterQuotedValue }
            if byte == .backslash { return .quotedPair }
            if HTTPSyntax.isFieldValueCharacter(byte) { return .quotedValue }
        case .quotedPair:
            if HTTPSyntax.isFieldValueCharacter(byte) { return .quotedValue }
        case .afterQuotedValue, .afterValue:
            if isWhitespace { return .afterValue }
            if byte == .semicolon { return .beforeName }
        }
        throw HTTPParseError(.badRequest, "invalid chunk extension")
    }
}

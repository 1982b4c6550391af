/// Byte classes (RFC 9110 §5.6, RFC 9112) and small byte-level helpers shared by the
/// head parser and the body decoder. Everything works on raw bytes: no String is built
/// until a value is known to be valid.
enum HTTPSyntax {
    /// tchar (RFC 9110 §5.6.2) as two 64-bit masks over ASCII: `!#$%&'*+-.^_`|~`, digits, letters.
    @inline(__always)
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> byte & 1 == 1 }
        if byte < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (byte &- 64) & 1 == 1 }
        return false
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == .space || byte == .tab }

    /// HTAB, SP, VCHAR and obs-text: what a field value may contain (RFC 9110 §5.5).
    /// Never NUL, CR, LF, any other control, or DEL.
    @inline(__always)
    static func isFieldValueCharacter(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == .tab
    }

    /// VCHAR (0x21–0x7E): the only bytes a request-target may contain.
    @inline(__always)
    static func isVisibleASCII(_ byte: UInt8) -> Bool { byte &- 0x21 < 0x5E }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        if byte &- UInt8(ascii: "0") < 10 { return Int(byte &- UInt8(ascii: "0")) }
        let lower = byte | 0x20
        if lower &- UInt8(ascii: "a") < 6 { return Int(lower &- UInt8(ascii: "a")) + 10 }
        return nil
    }

    /// Whether `bytes` equals `lowercase` ignoring ASCII case. `lowercase` must be lowercase ASCII.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            let byte = bytes[index]
            // Folding with 0x20 is only valid for letters; other bytes must match exactly.
            let folded = byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
            if folded != expected[index] { return false }
        }
        return true
    }

    /// Whether `bytes` equals `text` exactly.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        let expected = text.utf8Start
        for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
        return true
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), with the
    /// optional whitespace around it trimmed. Empty elements are passed too: callers decide.
    @inline(__always)
    static func forEachListElement(
        _ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        var elementStart = 0
        while true {
            var elementEnd = elementStart
            while elementEnd < bytes.count && bytes[elementEnd] != UInt8(ascii: ",") { elementEnd += 1 }
            body(trimmingWhitespace(bytes, elementStart, elementEnd))
            if elementEnd == bytes.count { return }
            elementStart = elementEnd + 1
        }
    }

    /// `bytes[start..<end]` without leading and trailing SP/HTAB.
    @inline(__always)
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        var start = start
        var end = end
        while start < end && isWhitespace(bytes[start]) { start += 1 }
        while end > start && isWhitespace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Index of the first CR or LF in `bytes[from..<to]`, or `to`. Eight bytes at a time
    /// (a SWAR zero-byte test), then byte by byte to locate the hit.
    @inline(__always)
    static func firstLineBreak(in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        var index = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while index &+ 8 <= to {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let cr = word ^ (ones &* 0x0D)
            let lf = word ^ (ones &* 0x0A)
            let hit = ((cr &- ones) & ~cr | (lf &- ones) & ~lf) & highs
            if hit != 0 { break }
            index &+= 8
        }
        while index < to {
            let byte = bytes[index]
            if byte == .cr || byte == .lf { return index }
            index &+= 1
        }
        return to
    }
}

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let semicolon = UInt8(ascii: ";")
    static let question = UInt8(ascii: "?")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
}

import Testing

@testable import ClaudeRunner

@Suite struct LineFramerTests {
    @Test func splitsLinesAcrossChunksInAnyPieces() throws {
        let text = Array("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n".utf8)
        let expected = [Array("{\"a\":1}".utf8), Array("{\"b\":2}".utf8), Array("{\"c\":3}".utf8)]
        for size in 1...text.count {
            var framer = LineFramer()
            var lines: [[UInt8]] = []
            var offset = 0
            while offset < text.count {
                let end = min(offset + size, text.count)
                lines += try framer.append(text[offset..<end])
                offset = end
            }
            #expect(lines == expected, "chunk size \(size)")
            #expect(framer.finish() == nil)
        }
    }

    @Test func keepsAMultiMegabyteLineWhole() throws {
        var framer = LineFramer()
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 5 << 20)
        var lines: [[UInt8]] = []
        for start in stride(from: 0, to: big.count, by: 65536) {
            lines += try framer.append(big[start..<min(start + 65536, big.count)])
        }
        lines += try framer.append([UInt8(ascii: "\n")])
        #expect(lines.count == 1)
        #expect(lines[0].count == big.count)
    }

    @Test func refusesALineOverTheLimit() throws {
        var framer = LineFramer(maxLineLength: 10)
        #expect(throws: LineFramer.LineTooLong.self) {
            _ = try framer.append(Array("01234567890".utf8))
        }
    }

    @Test func returnsTheUnterminatedTail() throws {
        var framer = LineFramer()
        #expect(try framer.append(Array("one\ntwo".utf8)) == [Array("one".utf8)])
        #expect(framer.finish() == Array("two".utf8))
    }
}

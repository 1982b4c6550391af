import Glibc
import Synchronization

/// Turns a response into the bytes of one `send`: status line, headers, body.
enum ResponseSerializer {
    static func serialize(
        _ response: HTTPResponse, keepAlive: Bool, requestVersion: HTTPVersion, omitBody: Bool
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128 + (omitBody ? 0 : response.body.count))
        append("HTTP/1.1 ", to: &bytes)
        append(String(response.status.code), to: &bytes)
        bytes.append(0x20)
        append(response.status.reasonPhrase, to: &bytes)
        append("\r\nContent-Length: ", to: &bytes)
        append(String(response.body.count), to: &bytes)
        append("\r\nDate: ", to: &bytes)
        append(HTTPDate.current(), to: &bytes)
        if !keepAlive {
            append("\r\nConnection: close", to: &bytes)
        } else if requestVersion == .http1_0 {
            // 1.0 clients close by default; say explicitly that we did not.
            append("\r\nConnection: keep-alive", to: &bytes)
        }
        for field in response.headers {
            if HTTPHeaders.equalsIgnoringCase(field.name, "Content-Length")
                || HTTPHeaders.equalsIgnoringCase(field.name, "Connection")
            {
                continue
            }
            append("\r\n", to: &bytes)
            append(field.name, to: &bytes)
            append(": ", to: &bytes)
            append(field.value, to: &bytes)
        }
        append("\r\n\r\n", to: &bytes)
        if !omitBody { bytes.append(contentsOf: response.body) }
        return bytes
    }

    static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static func append(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: string.utf8)
    }
}

/// The IMF-fixdate for the Date header (RFC 9110 §5.6.7), formatted once per second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func current() -> String {
        let now = time(nil)
        return cache.withLock { cache in
            if cache.second == now { return cache.text }
            cache = (now, format(now))
            return cache.text
        }
    }

    static func format(_ seconds: Int) -> String {
        var value = seconds
        var parts = tm()
        gmtime_r(&value, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

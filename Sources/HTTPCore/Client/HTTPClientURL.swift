/// An absolute `http` or `https` URL, split into what a request needs: the origin to
/// connect to and the origin-form target to send. Deliberately small: no userinfo (a
/// credential in a URL ends up in logs), no fragments, no relative references.
public struct HTTPClientURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http, https

        var defaultPort: Int { self == .http ? 80 : 443 }
    }

    public let scheme: Scheme
    /// Host name or IP literal, without the brackets of an IPv6 literal.
    public let host: String
    public let port: Int
    /// Path and query as sent in the request line; at least "/".
    public let target: String

    /// Where a pooled connection can be reused: the same scheme, host and port.
    public var origin: Origin { Origin(scheme: scheme, host: host, port: port) }

    public struct Origin: Sendable, Hashable, CustomStringConvertible {
        public let scheme: Scheme
        public let host: String
        public let port: Int

        /// The Host header value: the port only when it is not the scheme's default.
        var authority: String {
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return port == scheme.defaultPort ? hostPart : "\(hostPart):\(port)"
        }

        public var description: String { "\(scheme.rawValue)://\(authority)" }
    }

    public init(_ text: String) throws(HTTPClientError) {
        let bytes = Array(text.utf8)
        // Only printable ASCII: a space or control byte would corrupt the request line.
        guard !bytes.isEmpty, bytes.allSatisfy(HTTPSyntax.isVisibleASCII) else {
            throw .invalidURL(text, "contains spaces, controls or non-ASCII bytes")
        }
        guard let separator = Self.schemeSeparator(in: text) else {
            throw .invalidURL(text, "not an absolute http(s) URL")
        }
        guard let scheme = Scheme(rawValue: text[..<separator].lowercased()) else {
            throw .invalidURL(text, "scheme must be http or https")
        }
        let afterScheme = text[text.index(separator, offsetBy: 3)...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        var rest = afterScheme[authorityEnd...]
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }

        guard !authority.contains("@") else { throw .invalidURL(text, "credentials in URLs are not accepted") }
        let (host, port) = try Self.splitAuthority(authority, scheme: scheme, url: text)

        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = rest.isEmpty ? "/" : (rest.first == "?" ? "/" + rest : String(rest))
    }

    /// Where "://" starts, if the text begins with a scheme.
    static func schemeSeparator(in text: String) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex, text[index].isLetter || text[index] == "+" || text[index] == "-" || text[index] == "." {
            index = text.index(after: index)
        }
        guard index > text.startIndex, text[index...].hasPrefix("://") else { return nil }
        return index
    }

    private static func splitAuthority(_ authority: Substring, scheme: Scheme, url: String) throws(HTTPClientError)
        -> (String, Int)
    {
        var hostPart = authority
        var portPart: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(url, "unclosed IPv6 literal") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let afterClose = authority[authority.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.first == ":" else { throw .invalidURL(url, "junk after IPv6 literal") }
                portPart = afterClose.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw .invalidURL(url, "empty host") }
        var port = scheme.defaultPort
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, let value = Int(portPart), (1...65535).contains(value) else {
                throw .invalidURL(url, "invalid port")
            }
            port = value
        }
        return (hostPart.lowercased(), port)
    }

    /// This URL with `target` replaced (same origin), for building method URLs from a base.
    public func with(target newTarget: String) -> HTTPClientURL {
        HTTPClientURL(scheme: scheme, host: host, port: port, target: newTarget)
    }

    private init(scheme: Scheme, host: String, port: Int, target: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
    }

    public var description: String { origin.description + target }
}

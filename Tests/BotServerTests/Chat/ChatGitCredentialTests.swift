import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// Private remotes as the README promises them: an https:// remote that takes GIT_TOKEN
/// (git_http_server.py over TLS) and an ssh:// remote that takes GIT_SSH_KEY (Debian's sshd on
/// 127.0.0.1). Each is refused without its credential, said as such.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatGitCredentialTests {
    private static let identity = ["GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com", "GIT_TIMEOUT_SECONDS": "60"]

    /// Commits a change in the clone and pushes it from the chat.
    private static func commitAndPush(_ harness: ChatHarness, clone: String, message: String) async throws {
        try "hello\nagain\n".write(toFile: clone + "/README.md", atomically: true, encoding: .utf8)
        try await harness.send("/commit \(message)")
        #expect(try await harness.waitForMessage(containing: "Committed") != nil)
        try await harness.send("/push")
        let confirm = try #require(try await harness.waitForMessage(containing: "Push main to origin?"))
        try await harness.tap(try #require(ChatHarness.button("Push main", in: confirm)), on: ChatHarness.messageID(confirm))
        #expect(try await harness.waitForMessage(containing: "Pushed main to origin") != nil)
    }

    @Test func anHTTPSRemoteTakesGitTokenAndIsRefusedWithoutIt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let certificate = try await certificates.serverCertificate(named: "git", subjectAltName: "IP:127.0.0.1")
        let remote = try await ChatGitTests.Remote.start(in: harness.directory.path, certificate: certificate)
        defer { remote.server.stop() }
        #expect(remote.url.hasPrefix("https://"))
        // A private CA is trusted as an operator would: in the git config of git's HOME (CLAUDE_HOME).
        try "[http]\n\tsslCAInfo = \(certificates.caFile)\n".write(toFile: harness.directory.path + "/home/.gitconfig", atomically: true, encoding: .utf8)
        let clone = harness.workspace + "/shop"

        let (refused, refusedLog) = try await harness.run(Self.identity) { _ in
            try await harness.send("/clone \(remote.url) shop")
            #expect(try await harness.waitForMessage(containing: "The remote refused the credentials") != nil)
        }
        #expect(refused == .exited(0), "\(refusedLog.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: clone), "a refused clone left a folder")

        let (status, log) = try await harness.run(Self.identity.merging(["GIT_TOKEN": ChatGitTests.token]) { $1 }) { _ in
            try await harness.send("/clone \(remote.url) shop")
            #expect(try await harness.waitForMessage(containing: "Now in shop") != nil)
            #expect(try String(contentsOfFile: clone + "/README.md", encoding: .utf8) == "hello\n")
            try await Self.commitAndPush(harness, clone: clone, message: "Over https")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(try await remote.log().contains("Over https"))
        let config = try String(contentsOfFile: clone + "/.git/config", encoding: .utf8)
        #expect(!config.contains(ChatGitTests.token) && !config.contains("extraHeader"), "the token was stored: \(config)")
        #expect(!log.contains(ChatGitTests.token))
    }

    @Test(.enabled(if: SSHServer.usable, SSHServer.skipReason))
    func anSSHRemoteTakesGitSSHKeyAndIsRefusedWithAnotherKey() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let root = try await ChatGitTests.Remote.makeRepository(in: harness.directory.path)
        let keys = harness.directory.path + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try await SSHServer.generateKey(keys + "/id_ed25519")
        try await SSHServer.generateKey(keys + "/stranger_ed25519")
        let sshd = try await SSHServer.start(in: harness.directory.path + "/sshd", authorizedKey: keys + "/id_ed25519.pub")
        defer { sshd.stop() }
        let url = "ssh://\(SSHServer.userName)@127.0.0.1:\(sshd.port)\(root)/app.git"
        let clone = harness.workspace + "/shop"

        // A key the server does not know: git's "Permission denied (publickey)", said as refused credentials.
        let (refused, refusedLog) = try await harness.run(Self.identity.merging(["GIT_SSH_KEY": keys + "/stranger_ed25519"]) { $1 }) { _ in
            try await harness.send("/clone \(url) shop")
            #expect(try await harness.waitForMessage(containing: "The remote refused the credentials") != nil)
        }
        #expect(refused == .exited(0), "\(refusedLog.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: clone), "a refused clone left a folder")

        let (status, log) = try await harness.run(Self.identity.merging(["GIT_SSH_KEY": keys + "/id_ed25519"]) { $1 }) { _ in
            try await harness.send("/clone \(url) shop")
            #expect(try await harness.waitForMessage(containing: "Now in shop") != nil)
            #expect(try String(contentsOfFile: clone + "/README.md", encoding: .utf8) == "hello\n")
            try await Self.commitAndPush(harness, clone: clone, message: "Over ssh")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let pushed = try await ChatGitTests.Remote.git(["--git-dir", root + "/app.git", "log", "--format=%s", "main"])
        #expect(pushed.contains("Over ssh"))
        #expect(sshd.acceptedKeys() >= 1, "sshd accepted no public key")
    }
}

/// Debian's sshd (openssh-server, installed by scripts/install-dependencies.sh) on 127.0.0.1 and
/// a free port, as the test's user, with a host key of its own and one authorized key.
final class SSHServer: @unchecked Sendable {
    static let executable = "/usr/sbin/sshd"
    let port: Int
    private let child: ChildProcess
    private let logLines: LockedLines

    static var userName: String { getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "root" }

    /// Whether an sshd can run here. In CI (CI=true, as root) it must: there the test runs and
    /// fails rather than skip.
    static let usable: Bool = {
        if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
        guard FileManager.default.isExecutableFile(atPath: executable), let directory = try? TemporaryDirectory() else { return false }
        defer { directory.remove() }
        let key = directory.path + "/probe_key"
        guard (try? ChildProcess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]))?.status == 0 else { return false }
        guard let server = try? SSHServer(in: directory.path + "/sshd", authorizedKey: key + ".pub") else { return false }
        server.stopAndWait()
        return true
    }()

    static var skipReason: Comment {
        FileManager.default.isExecutableFile(atPath: executable)
            ? "sshd cannot run here as \(userName) (it needs root, or a system that lets it run unprivileged); CI runs it as root"
            : "no \(executable): scripts/install-dependencies.sh installs openssh-server"
    }

    static func generateKey(_ path: String) async throws {
        let (status, output) = try await offCooperativePool { try ChildProcess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path]) }
        guard status == 0 else { throw TestSetupError("ssh-keygen: \(output)") }
    }

    static func start(in directory: String, authorizedKey: String) async throws -> SSHServer {
        try await offCooperativePool { try SSHServer(in: directory, authorizedKey: authorizedKey) }
    }

    /// Blocks until sshd says it listens (or has exited).
    private init(in directory: String, authorizedKey: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let hostKey = directory + "/host_ed25519"
        let (status, output) = try ChildProcess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        guard status == 0 else { throw TestSetupError("ssh-keygen: \(output)") }
        try FileManager.default.copyItem(atPath: authorizedKey, toPath: directory + "/authorized_keys")
        // As root sshd wants its privilege separation directory, which the service would make.
        if getuid() == 0 { try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true) }
        port = freeLoopbackPort()
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(hostKey)
            AuthorizedKeysFile \(directory)/authorized_keys
            PidFile none
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            LogLevel VERBOSE

            """
        try config.write(toFile: directory + "/sshd_config", atomically: true, encoding: .utf8)
        let child = try ChildProcess([Self.executable, "-D", "-e", "-f", directory + "/sshd_config"], captureStandardError: true)
        var seen: [String] = []
        while let line = child.readLine() {
            seen.append(line)
            if line.contains("Server listening on 127.0.0.1") { break }
        }
        guard seen.last?.contains("Server listening") == true else {
            child.stop(within: .seconds(2))
            throw TestSetupError("sshd did not start: \(seen.joined(separator: "\n"))")
        }
        // The log goes on being read (a full pipe would stall sshd), kept for the test.
        let lines = LockedLines()
        logLines = lines
        self.child = child
        Thread.detachNewThread {
            while let line = child.readLine() { lines.append(line) }
        }
        Self.forgetHostKey(port: port)
    }

    /// How many logins by public key sshd accepted so far.
    func acceptedKeys() -> Int { logLines.all.filter { $0.contains("Accepted publickey") }.count }

    /// ssh writes the host key it accepted to its user's ~/.ssh/known_hosts (the passwd home,
    /// whatever HOME says): the entry for this port goes, so that a later server on the same
    /// port with another host key is not taken for an impostor.
    private static func forgetHostKey(port: Int) {
        guard let home = getpwuid(getuid()).map({ String(cString: $0.pointee.pw_dir) }) else { return }
        let file = home + "/.ssh/known_hosts"
        guard FileManager.default.fileExists(atPath: file) else { return }
        _ = try? ChildProcess.run(["ssh-keygen", "-q", "-R", "[127.0.0.1]:\(port)", "-f", file])
    }

    func stop() {
        let (child, port) = (child, port)
        kill(child.pid, SIGTERM)
        DispatchQueue.global().async {
            child.stop(within: .seconds(5))
            Self.forgetHostKey(port: port)
        }
    }

    private func stopAndWait() {
        kill(child.pid, SIGTERM)
        child.stop(within: .seconds(5))
    }
}

private final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

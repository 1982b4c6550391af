import Glibc

/// How much memory the bot (and the Claude processes it starts) may still use: the kernel's
/// MemAvailable and MemTotal, narrowed to the cgroup's limit when one is set. In a container
/// /proc/meminfo shows the whole host, so a 2 GB container on a 64 GB host would otherwise
/// look almost empty until the OOM killer came.
struct MemoryInfo: Sendable, Equatable {
    /// Bytes.
    var total: UInt64
    /// Bytes that can be had without swapping: free memory plus what the kernel can reclaim.
    var available: UInt64

    /// Available as a share of total (0...1).
    var availableFraction: Double { total == 0 ? 1 : Double(available) / Double(total) }

    /// Reads the running system; nil where /proc/meminfo is missing or unreadable.
    static func current() -> MemoryInfo? {
        guard let meminfo = readSmallFile("/proc/meminfo"), var info = parse(meminfo: meminfo) else { return nil }
        if let limit = CgroupMemory.read() { info = info.limited(by: limit) }
        return info
    }

    /// MemTotal and MemAvailable (in kB in the file) from /proc/meminfo's text.
    static func parse(meminfo text: String) -> MemoryInfo? {
        var total: UInt64?
        var available: UInt64?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = UInt64(fields[1]) else { continue }
            switch fields[0] {
            case "MemTotal:": total = kilobytes * 1024
            case "MemAvailable:": available = kilobytes * 1024
            default: continue
            }
        }
        guard let total, let available else { return nil }
        return MemoryInfo(total: total, available: min(available, total))
    }

    /// This memory as seen from inside a cgroup with a limit: whichever leaves less.
    func limited(by cgroup: CgroupMemory) -> MemoryInfo {
        guard cgroup.limit < total else { return self }
        // Page cache counts in the cgroup's usage but is given back under pressure, as the
        // kernel's MemAvailable assumes too (the "working set" container runtimes report).
        let workingSet = cgroup.usage > cgroup.inactiveFile ? cgroup.usage - cgroup.inactiveFile : 0
        let left = cgroup.limit > workingSet ? cgroup.limit - workingSet : 0
        return MemoryInfo(total: cgroup.limit, available: min(available, left))
    }

    /// "1.5 GiB", "380 MiB": for logs and `botserver doctor`.
    static func describe(_ bytes: UInt64) -> String {
        let mebibytes = bytes >> 20
        if mebibytes < 1024 { return "\(mebibytes) MiB" }
        let tenths = mebibytes * 10 / 1024
        return "\(tenths / 10).\(tenths % 10) GiB"
    }

    /// The whole of a small file under /proc or /sys (they report a size of 0, so read until EOF).
    static func readSmallFile(_ path: String, limit: Int = 64 << 10) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The memory limit of the cgroup the bot runs in, and what it uses: cgroup v2 (the process's
/// own group, from /proc/self/cgroup) or v1's memory controller as a container sees it.
struct CgroupMemory: Sendable, Equatable {
    var limit: UInt64
    var usage: UInt64
    var inactiveFile: UInt64

    /// nil when no limit is set ("max", or v1's huge number), or no cgroup files are readable.
    static func read(root: String = "/sys/fs/cgroup", selfCgroup: String = "/proc/self/cgroup") -> CgroupMemory? {
        var folders: [String] = []
        // v2: "0::/path"; inside a container's cgroup namespace the path is "/".
        if let membership = MemoryInfo.readSmallFile(selfCgroup) {
            for line in membership.split(separator: "\n") where line.hasPrefix("0::") {
                let path = String(line.dropFirst(3))
                folders.append(path == "/" ? root : root + path)
            }
        }
        folders.append(root)
        for folder in folders {
            if let limit = MemoryInfo.readSmallFile(folder + "/memory.max").flatMap(number),
                let usage = MemoryInfo.readSmallFile(folder + "/memory.current").flatMap(number)
            {
                let stat = MemoryInfo.readSmallFile(folder + "/memory.stat") ?? ""
                return CgroupMemory(limit: limit, usage: usage, inactiveFile: field("inactive_file", in: stat) ?? 0)
            }
        }
        // v1, as mounted in a container: the group's own files at the controller's root.
        let v1 = root + "/memory"
        if let limit = MemoryInfo.readSmallFile(v1 + "/memory.limit_in_bytes").flatMap(number),
            let usage = MemoryInfo.readSmallFile(v1 + "/memory.usage_in_bytes").flatMap(number)
        {
            let stat = MemoryInfo.readSmallFile(v1 + "/memory.stat") ?? ""
            return CgroupMemory(limit: limit, usage: usage, inactiveFile: field("total_inactive_file", in: stat) ?? 0)
        }
        return nil
    }

    /// A number of bytes; nil for "max" (no limit).
    private static func number(_ text: String) -> UInt64? {
        UInt64(text.trimmingWhitespace())
    }

    private static func field(_ name: String, in stat: String) -> UInt64? {
        for line in stat.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return UInt64(parts[1]) }
        }
        return nil
    }
}

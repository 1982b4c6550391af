import Glibc

/// An account of this system, from the passwd and group databases (getpwnam_r and friends,
/// so NSS sources other than /etc/passwd count too).
struct SystemUser: Sendable, Equatable {
    let name: String?
    let uid: uid_t
    let gid: gid_t
    let home: String?

    static func named(_ name: String) -> SystemUser? {
        lookup { entry, buffer, result in getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    static func withID(_ uid: uid_t) -> SystemUser? {
        lookup { entry, buffer, result in getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    private static func lookup(
        _ call: (inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> SystemUser? {
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        // The entry's strings live in the buffer: read them before it goes.
        return buffer.withUnsafeMutableBufferPointer { storage in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            guard call(&entry, storage, &result) == 0, result != nil else { return nil }
            return SystemUser(
                name: entry.pw_name.map { String(cString: $0) }, uid: entry.pw_uid, gid: entry.pw_gid,
                home: entry.pw_dir.map { String(cString: $0) })
        }
    }

    /// Every group the account is in, its primary group first: what a login would get.
    var groups: [gid_t] {
        guard let name else { return [gid] }
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var asked = count
            if getgrouplist(name, gid, &groups, &asked) >= 0 {
                let list = Array(groups.prefix(Int(asked)))
                return [gid] + list.filter { $0 != gid }
            }
            guard asked > count, asked < 65_536 else { return [gid] }
            count = asked
        }
    }

    /// The name of group `gid`, for messages; the number when it has none.
    static func groupName(_ gid: gid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        return buffer.withUnsafeMutableBufferPointer { storage in
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            guard getgrgid_r(gid, &entry, storage.baseAddress!, storage.count, &result) == 0, result != nil, let name = entry.gr_name
            else { return String(gid) }
            return String(cString: name)
        }
    }

    /// The groups this process has now (effective and supplementary).
    static func currentGroups() -> Set<gid_t> {
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let filled = getgroups(count, &groups)
        return Set(groups.prefix(Int(max(filled, 0)))).union([getegid()])
    }

    /// "claude (uid 10002)", or "uid 10002" for an account without a name.
    var label: String { name.map { "\($0) (uid \(uid))" } ?? "uid \(uid)" }
}

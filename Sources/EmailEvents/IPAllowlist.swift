import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A set of CIDR ranges (IPv4 and IPv6), e.g. an ESP's published webhook ranges or the load
/// balancers allowed to set `X-Forwarded-For`. An IPv4-mapped IPv6 address matches IPv4 ranges.
public struct IPAllowlist: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        var network: [UInt8]
        var prefix: Int
    }

    let ranges: [Range]

    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var description: String { "not an IP address or CIDR range: \(text)" }
    }

    /// `["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]`; a bare address is a single host.
    public init(_ cidrs: [String]) throws(Invalid) {
        ranges = try cidrs.map { text throws(Invalid) in
            let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = parts.first.flatMap(Self.bytes) else { throw Invalid(text: text) }
            let maximum = address.count * 8
            guard let prefix = parts.count == 2 ? Int(parts[1]) : maximum, (0...maximum).contains(prefix) else { throw Invalid(text: text) }
            return Range(network: address, prefix: prefix)
        }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    public static let none = IPAllowlist(ranges: [])

    private init(ranges: [Range]) { self.ranges = ranges }

    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(address) else { return false }
        // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff { bytes = Array(bytes[12...]) }
        return ranges.contains { range in
            guard range.network.count == bytes.count else { return false }
            var remaining = range.prefix
            for (a, b) in zip(range.network, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    /// 4 or 16 bytes, or nil.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The client's address: the peer, unless the peer is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` address that is not itself a trusted proxy. The header is
    /// never believed from anyone else, so a client cannot spoof its way into an allowlist.
    public static func clientAddress(peer: String?, forwardedFor: String?, trustedProxies: IPAllowlist) -> String? {
        guard let peer, trustedProxies.contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.reversed().first { !trustedProxies.contains($0) } ?? peer
    }
}

/// Redis Cluster's key-to-slot mapping: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of
/// the key, or of its hash tag when it has one, modulo 16384. Keys with the same tag share a slot,
/// which is what lets a script or a MULTI touch several of them on a cluster.
public enum HashSlot {
    public static let count = 16384

    public static func of(_ key: String) -> Int {
        of(Array(key.utf8))
    }

    public static func of(_ key: [UInt8]) -> Int {
        Int(crc16(tagRange(in: key).map { key[$0] } ?? key[...]) % UInt16(count))
    }

    /// Where the key's hash tag is: between the first `{` and the next `}`, if that is not empty.
    /// Without one the whole key is hashed (so `a{}{b}` hashes whole, `a{{b}}` hashes `{b`).
    static func tagRange<Key: Collection<UInt8>>(in key: Key) -> Range<Key.Index>? {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return nil }
        let start = key.index(after: open)
        guard let close = key[start...].firstIndex(of: UInt8(ascii: "}")), close > start else { return nil }
        return start..<close
    }

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

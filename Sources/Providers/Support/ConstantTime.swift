import Crypto
import Foundation

enum ConstantTime {
    /// Compares two secrets without an early exit: both sides are hashed first, so the time
    /// depends neither on where they differ nor on the secret's length.
    static func equals(_ a: some DataProtocol, _ b: some DataProtocol) -> Bool {
        let left = SHA256.hash(data: a)
        let right = SHA256.hash(data: b)
        var difference: UInt8 = 0
        for (x, y) in zip(left, right) { difference |= x ^ y }
        return difference == 0
    }
}

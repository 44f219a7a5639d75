import Foundation

extension JSONObject {
    /// The value of the first key that matches case-insensitively: Postmark sends both
    /// `MessageID` and `MessageId`, `ServerID` and `ServerId`.
    func anyCase(_ key: String) -> Any? {
        if let exact = storage[key] { return exact }
        let lowered = key.lowercased()
        return storage.first { $0.key.lowercased() == lowered }?.value
    }

    /// Every key/value as text (metadata); nested values become compact JSON.
    func textMap() -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in storage { result[key] = JSONObject.textValue(value) }
        return result
    }
}

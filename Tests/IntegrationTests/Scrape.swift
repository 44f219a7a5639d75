import Foundation

/// A parsed Prometheus text exposition: `name{label="value",…}` → value.
struct Scrape {
    var samples: [String: Double] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[Self.canonical(String(line[..<space]))] = value
        }
    }

    static func fetch(_ url: String) async throws -> Scrape {
        let reply = try await HTTP.request(url, method: "GET")
        guard reply.status == 200 else { throw URLError(.badServerResponse) }
        return Scrape(reply.body)
    }

    /// The value of a series, 0 if absent; labels in any order.
    subscript(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples[Self.key(name, labels)] ?? 0
    }

    /// Metric names present (histograms by their base name).
    var names: Set<String> {
        Set(
            samples.keys.map { key in
                let name = String(key.prefix { $0 != "{" })
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
                return name
            })
    }

    static func key(_ name: String, _ labels: [String: String]) -> String {
        labels.isEmpty
            ? name : name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }

    /// `name{b="2",a="1"}` → `name{a="1",b="2"}`.
    static func canonical(_ series: String) -> String {
        guard let open = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
        let name = String(series[..<open])
        var labels: [String: String] = [:]
        let body = series[series.index(after: open)..<series.index(before: series.endIndex)]
        var rest = Substring(body)
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var index = rest.index(equals, offsetBy: 2)  // past `="`
            var value = ""
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\" { index = rest.index(after: index) }
                value.append(rest[index])
                index = rest.index(after: index)
            }
            labels[key] = value
            rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
        }
        return key(name, labels)
    }
}

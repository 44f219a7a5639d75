import Foundation

/// Small SVG charts for the HTML report: drawn here, so the report needs no script, no font and
/// no network (`postwire report`).
public enum SVGChart {
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var values: [Double]

        public init(name: String, color: String, values: [Double]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    static let width = 880.0, height = 260.0, left = 56.0, right = 16.0, top = 16.0, bottom = 44.0

    /// Bars per category, side by side or stacked, with a legend and a y axis from 0.
    public static func bars(id: String, title: String, categories: [String], series: [Series], stacked: Bool) -> String {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let totals = categories.indices.map { i in series.map { $0.values[safe: i] }.reduce(0, +) }
        let peak = niceCeiling(stacked ? (totals.max() ?? 0) : (series.flatMap(\.values).max() ?? 0))
        let slot = categories.isEmpty ? plotWidth : plotWidth / Double(categories.count)
        var body = axes(id: id, peak: peak, format: { integer($0) })
        for (i, _) in categories.enumerated() {
            var base = 0.0
            for (s, one) in series.enumerated() {
                let value = one.values[safe: i]
                let barWidth = stacked ? slot * 0.7 : slot * 0.8 / Double(max(1, series.count))
                let x = left + Double(i) * slot + (stacked ? slot * 0.15 : slot * 0.1 + Double(s) * barWidth)
                let h = peak > 0 ? value / peak * plotHeight : 0
                let y = top + plotHeight - h - (stacked ? base / peak * plotHeight : 0)
                if h > 0 {
                    body +=
                        ##"<rect class="bar" x="\##(f(x))" y="\##(f(y))" width="\##(f(max(1, barWidth - 1)))" height="\##(f(h))" fill="\##(one.color)"><title>\##(HTML.escape(categories[i])) \##(HTML.escape(one.name)): \##(integer(value))</title></rect>"##
                }
                if stacked { base += value }
            }
        }
        body += labels(categories, slot: slot)
        return frame(id: id, title: title, body: body, series: series)
    }

    /// Lines per series over the categories, with dashed threshold lines.
    public static func lines(
        id: String, title: String, categories: [String], series: [Series], thresholds: [(name: String, value: Double)] = [],
        percent: Bool = true
    ) -> String {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let peak = niceCeiling(max(series.flatMap(\.values).max() ?? 0, thresholds.map(\.value).max() ?? 0) * 1.1)
        let slot = categories.isEmpty ? plotWidth : plotWidth / Double(categories.count)
        let format: (Double) -> String = percent ? { String(format: "%.1f %%", $0 * 100) } : { integer($0) }
        var body = axes(id: id, peak: peak, format: format)
        func point(_ i: Int, _ value: Double) -> String {
            "\(f(left + (Double(i) + 0.5) * slot)),\(f(top + plotHeight - (peak > 0 ? value / peak * plotHeight : 0)))"
        }
        for threshold in thresholds {
            let y = top + plotHeight - (peak > 0 ? threshold.value / peak * plotHeight : 0)
            body +=
                ##"<line class="threshold" x1="\##(f(left))" x2="\##(f(width - right))" y1="\##(f(y))" y2="\##(f(y))" stroke="#b00020" stroke-dasharray="6 4"/>"##
            body +=
                ##"<text x="\##(f(width - right))" y="\##(f(y - 4))" text-anchor="end" class="note">\##(HTML.escape(threshold.name)) \##(format(threshold.value))</text>"##
        }
        for one in series where !one.values.isEmpty {
            let points = one.values.enumerated().map { point($0.offset, $0.element) }.joined(separator: " ")
            body += ##"<polyline class="line" fill="none" stroke="\##(one.color)" stroke-width="2" points="\##(points)"/>"##
        }
        body += labels(categories, slot: slot)
        return frame(id: id, title: title, body: body, series: series)
    }

    static func frame(id: String, title: String, body: String, series: [Series]) -> String {
        var legend = ""
        for (n, one) in series.enumerated() {
            let x = left + Double(n) * 150
            legend += ##"<rect x="\##(f(x))" y="\##(f(height - 14))" width="10" height="10" fill="\##(one.color)"/>"##
            legend += ##"<text x="\##(f(x + 14))" y="\##(f(height - 5))" class="legend">\##(HTML.escape(one.name))</text>"##
        }
        return """
            <figure><figcaption>\(HTML.escape(title))</figcaption>
            <svg id="\(HTML.escape(id))" class="chart" role="img" aria-label="\(HTML.escape(title))" viewBox="0 0 \(f(width)) \(f(height))" xmlns="http://www.w3.org/2000/svg">\(body)\(legend)</svg></figure>
            """
    }

    static func axes(id: String, peak: Double, format: (Double) -> String) -> String {
        let plotHeight = height - top - bottom
        var out = ""
        // Five steps: a 1, 2 or 5 times a power of ten divides into round numbers.
        for step in 0...5 {
            let value = peak * Double(step) / 5
            let y = top + plotHeight - Double(step) / 5 * plotHeight
            out += ##"<line x1="\##(f(left))" x2="\##(f(width - right))" y1="\##(f(y))" y2="\##(f(y))" stroke="#ddd"/>"##
            out += ##"<text x="\##(f(left - 6))" y="\##(f(y + 4))" text-anchor="end" class="axis">\##(HTML.escape(format(value)))</text>"##
        }
        return out
    }

    /// At most about 12 category labels under the axis, evenly picked.
    static func labels(_ categories: [String], slot: Double) -> String {
        let every = max(1, Int((Double(categories.count) / 12).rounded(.up)))
        var out = ""
        for (i, label) in categories.enumerated() where i % every == 0 {
            out +=
                ##"<text x="\##(f(left + (Double(i) + 0.5) * slot))" y="\##(f(height - bottom + 16))" text-anchor="middle" class="axis">\##(HTML.escape(label))</text>"##
        }
        return out
    }

    /// 1, 2 or 5 times a power of ten, at least `value` (1 when there is nothing).
    static func niceCeiling(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * power >= value { return step * power }
        return 10 * power
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value.isFinite ? value : 0) }
    static func integer(_ value: Double) -> String { value.isFinite ? String(Int64(value.rounded())) : "0" }
}

/// Text made safe for HTML: every value in the report may come from an ESP's payload.
public enum HTML {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}

extension Array where Element == Double {
    subscript(safe index: Int) -> Double { indices.contains(index) ? self[index] : 0 }
}

import Foundation

/// A plain-text table for a terminal (`postwire status`, `postwire stats`): columns padded to their
/// widest cell, the first column and words left-aligned, numbers right-aligned.
public enum TextTable {
    public static func render(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                let numeric = Double(cell.replacingOccurrences(of: ",", with: "")) != nil || cell == "-"
                return column == 0 || !numeric ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}

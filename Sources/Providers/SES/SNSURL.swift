/// The URLs an SNS message may make the ingress fetch, checked on their raw text. Foundation's URL
/// percent-decodes paths (`..%2f` becomes `../`) and accepts any host under amazonaws.com, an S3
/// bucket named `sns` included; these rules accept only what SNS itself sends:
///
/// - `https://`, no user info, no port, no fragment;
/// - host exactly `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`, the region
///   two letters, dash-separated words, and a number (`us-east-1`, `us-gov-west-1`, `cn-north-1`);
/// - a certificate path of one segment, `<letters, digits, - and _>.pem`, with no escapes.
enum SNSURL {
    /// The certificate's file name when `text` is an SNS signing-certificate URL, else nil.
    static func certificateFileName(_ text: String) -> String? {
        guard let (host, path, query) = split(text), query == nil, isSNSHost(host) else { return nil }
        let name = path.dropFirst()  // the leading "/"
        guard path.first == "/", name.hasSuffix(".pem"), name.count > 4,
            name.dropLast(4).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        return String(name)
    }

    /// Whether `text` is an SNS endpoint URL (`SubscribeURL`): `https://sns.<region>…/?Action=…`.
    static func isSNSEndpoint(_ text: String) -> Bool {
        guard let (host, path, query) = split(text), isSNSHost(host), path == "/" || path.isEmpty, let query else { return false }
        return query.hasPrefix("Action=")
    }

    /// (host, path, query) of an `https://` URL without user info, port or fragment.
    private static func split(_ text: String) -> (host: Substring, path: Substring, query: Substring?)? {
        guard text.hasPrefix("https://"), !text.contains("#"), !text.contains("\\"), text.allSatisfy({ $0.isASCII && !$0.isWhitespace })
        else { return nil }
        let rest = text.dropFirst("https://".count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let host = rest[..<authorityEnd]
        guard !host.contains("@"), !host.contains(":") else { return nil }
        let afterHost = rest[authorityEnd...]
        let queryStart = afterHost.firstIndex(of: "?")
        let path = afterHost[..<(queryStart ?? afterHost.endIndex)]
        guard !path.contains("%") else { return nil }
        return (host, path, queryStart.map { afterHost[afterHost.index(after: $0)...] })
    }

    static func isSNSHost(_ host: Substring) -> Bool {
        let labels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        switch labels.count {
        case 4: return labels[0] == "sns" && isRegion(labels[1]) && labels[2] == "amazonaws" && labels[3] == "com"
        case 5:
            return labels[0] == "sns" && isRegion(labels[1]) && labels[2] == "amazonaws" && labels[3] == "com" && labels[4] == "cn"
        default: return false
        }
    }

    /// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-northwest-1`, `eu-central-2`.
    static func isRegion(_ label: Substring) -> Bool {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let first = parts.first, let last = parts.last else { return false }
        return first.count == 2 && first.allSatisfy { $0.isASCII && $0.isLowercase }
            && parts.dropFirst().dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
            && (1...2).contains(last.count) && last.allSatisfy { $0.isASCII && $0.isNumber }
    }
}

import Foundation
import HTTPTypes
import Hummingbird

/// Every answer of the ingress is JSON: `{"accepted": n}` or `{"error": {"code": …, "message": …}}`.
/// Messages say what was wrong with the request; they never echo secrets or internals.
enum JSONResponse {
    private struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    static func error(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        make(status, ErrorBody(error: .init(code: code, message: message)), headers: headers)
    }

    /// Every accepted request's answer, written directly rather than by a JSONEncoder made per
    /// answer (docs/PERFORMANCE.md, ingress).
    /// `{"accepted":n}`, or `{"accepted":n,"quarantined":k}` when k elements were set aside.
    static func accepted(_ count: Int, quarantined: Int = 0) -> Response {
        let body = quarantined > 0 ? #"{"accepted":\#(count),"quarantined":\#(quarantined)}"# : #"{"accepted":\#(count)}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func make(_ status: HTTPResponse.Status, _ body: some Encodable, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let data = (try? JSONEncoder().encode(body)) ?? Data("{}".utf8)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

import Hummingbird
import NIOCore
import NIOPosix

// The baseline of the ingress benchmark (Benchmarks/run): a bare Hummingbird 2 route that reads the body and
// answers 200, with nothing of Postwire behind it. The same load against this and against
// postwire-ingress, in the same run, gives the ratio the targets are stated in.
//
//   BareRoute <port>
//
// Same runtime set-up as postwire-ingress (Swift concurrency on NIO's event loops), so the ratio
// compares what the routes do, not how tasks are scheduled.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8090 : 8090
let router = Router()
router.post("/webhooks/:provider") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 5 * 1024 * 1024)
    return Response(
        status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":1}"#)))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"))
try await app.runService()

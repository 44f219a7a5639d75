import Foundation

// Built with `--sanitize=fuzzer` (Scripts/fuzz), libFuzzer supplies `main` and calls this for every
// input; the target comes from POSTWIRE_FUZZ_TARGET. Built normally, `postwire-fuzz TARGET FILE…`
// runs the files through the target once each: how Scripts/test replays the corpora and the crashes
// found so far without a fuzzer build.

private let fuzzTarget = ProcessInfo.processInfo.environment["POSTWIRE_FUZZ_TARGET"] ?? ""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(fuzzTarget, bytes)
    return 0
}

#if !POSTWIRE_LIBFUZZER
    @main
    struct Replay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            if arguments == ["--targets"] {  // Scripts/test checks that each has a corpus folder
                print(FuzzTargets.names.joined(separator: "\n"))
                return
            }
            guard let target = arguments.first, FuzzTargets.names.contains(target) else {
                print("usage: postwire-fuzz TARGET FILE...; targets: \(FuzzTargets.names.joined(separator: " "))")
                exit(64)
            }
            var count = 0
            for path in arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                FuzzTargets.run(target, Array(data))
                count += 1
            }
            print("\(target): \(count) inputs, no crash")
        }
    }
#endif

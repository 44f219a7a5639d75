import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import RedisStreams

/// The cluster client against scripted nodes: MOVED updates the map and goes on at the new owner,
/// ASK asks the importing node once (with ASKING) and leaves the map alone, TRYAGAIN is retried,
/// CLUSTERDOWN that never ends gives up with an error, and a slot that has no owner is an error.
@Suite struct ClusterRedirectTests {
    static func client(seed: ScriptedNode) -> RedisClient {
        RedisClient(
            configuration: RedisConfiguration(topology: .cluster(seeds: [seed.node]), connections: 1, commandTimeout: .seconds(2)))
    }

    @Test func movedUpdatesTheMapAndTheNextCommandGoesStraightToTheNewOwner() async throws {
        // Every node reports the same owner of all slots: A, until the slots have moved to B.
        let owner = NIOLockedValueBox(0)
        let b = try await ScriptedNode { command, _ in
            command.first == "CLUSTER" ? .allSlots(on: owner.withLockedValue { $0 }) : .text("1-1")
        }
        let bPort = b.port
        let a = try await ScriptedNode { command, _ in
            if command.first == "CLUSTER" { return .allSlots(on: owner.withLockedValue { $0 }) }
            owner.withLockedValue { $0 = bPort }
            return .error("MOVED \(HashSlot.of("k")) 127.0.0.1:\(bPort)")
        }
        owner.withLockedValue { $0 = a.port }
        let client = Self.client(seed: a)
        #expect(try await client.xadd("k", [("f", Array("v".utf8))]) == "1-1")
        #expect(try await client.xadd("k", [("f", Array("v".utf8))]) == "1-1")
        #expect(a.commands.map(\.first) == ["XADD"], "A was asked once")
        #expect(b.commands.map(\.first) == ["XADD", "XADD"], "then B, directly")
        await client.close()
        for node in [a, b] { await node.close() }
    }

    @Test func askGoesToTheImportingNodeOnceWithAskingAndLeavesTheMapAlone() async throws {
        let b = try await ScriptedNode { command, _ in
            command.first == "ASKING" ? .simpleString("OK") : .text("2-1")
        }
        let bPort = b.port
        let aPort = NIOLockedValueBox(0)
        let a = try await ScriptedNode { command, seen in
            if command.first == "CLUSTER" { return .allSlots(on: aPort.withLockedValue { $0 }) }
            return seen == 1 ? .error("ASK \(HashSlot.of("k")) 127.0.0.1:\(bPort)") : .text("3-1")
        }
        aPort.withLockedValue { $0 = a.port }
        let client = Self.client(seed: a)
        #expect(try await client.xadd("k", [("f", Array("v".utf8))]) == "2-1", "answered by the importing node")
        #expect(b.received.map(\.first) == ["ASKING", "XADD"])
        #expect(try await client.xadd("k", [("f", Array("v".utf8))]) == "3-1", "the slot still belongs to A")
        #expect(a.commands.map(\.first) == ["XADD", "XADD"])
        await client.close()
        for node in [a, b] { await node.close() }
    }

    @Test func tryAgainIsRetriedAndEndlessClusterDownGivesUp() async throws {
        let port = NIOLockedValueBox(0)
        let node = try await ScriptedNode { command, seen in
            if command.first == "CLUSTER" { return .allSlots(on: port.withLockedValue { $0 }) }
            if command.first == "XLEN" {
                return seen <= 2 ? .error("TRYAGAIN Multiple keys request during rehashing of slot") : .integer(7)
            }
            return .error("CLUSTERDOWN The cluster is down")
        }
        port.withLockedValue { $0 = node.port }
        let client = Self.client(seed: node)
        #expect(try await client.xlen("k") == 7)
        #expect(node.commands.filter { $0.first == "XLEN" }.count == 3, "two TRYAGAIN, then the answer")
        await #expect(throws: RedisError.self) { try await client.xadd("k", [("f", [1])]) }
        #expect(node.commands.filter { $0.first == "XADD" }.count == ClusterRouter.maxAttempts)
        await client.close()
        await node.close()
    }

    @Test func aSlotWithoutAMasterIsAnErrorNotAGuess() async throws {
        // The map covers slots 0…99 only; "k" is elsewhere.
        let node = try await ScriptedNode { _, _ in
            .array([.array([.integer(0), .integer(99), .array([.text("127.0.0.1"), .integer(1)])])])
        }
        let client = Self.client(seed: node)
        await #expect(throws: RedisError.self) { try await client.xlen("k") }
        await client.close()
        await node.close()
    }
}

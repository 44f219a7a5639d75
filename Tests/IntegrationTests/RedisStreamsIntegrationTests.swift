import Foundation
import RedisStreams
import Testing

/// The typed stream commands against a real Redis.
@Suite struct RedisStreamsIntegrationTests {
    /// An ACL user (`redis.username` and its password) is how every node and sentinel is reached
    /// when Redis has users: it authenticates with both, and a wrong password is refused with the
    /// server's answer, not a hang.
    @Test func anACLUserAuthenticatesAndAWrongPasswordIsRefused() async throws {
        let admin = TestEnvironment.redis()
        let user = TestEnvironment.unique("pw-user")
        _ = try await admin.send(RedisCommand("ACL", ["SETUSER", RESPArgument(user), "on", ">user-pw", "~*", "&*", "+@all"]))
        defer {
            Task {
                _ = try? await admin.send(RedisCommand("ACL", ["DELUSER", RESPArgument(user)])); await admin.close()
            }
        }
        let good = RedisClient(
            configuration: RedisConfiguration(port: TestEnvironment.redisPort, username: user, password: "user-pw", connections: 1))
        try await good.ping()
        let whoami = try await good.send(RedisCommand("ACL", ["WHOAMI"]))
        #expect(whoami.string == user)
        await good.close()
        let bad = RedisClient(
            configuration: RedisConfiguration(port: TestEnvironment.redisPort, username: user, password: "wrong", connections: 1))
        do {
            try await bad.ping()
            Issue.record("a wrong password was accepted")
        } catch {
            #expect(error.code == .server && error.message.hasPrefix("WRONGPASS"), "\(error)")
        }
        await bad.close()
    }

    @Test func consumerGroupLifecycle() async throws {
        let redis = TestEnvironment.redis()
        let stream = TestEnvironment.unique("pw:streams")
        #expect(try await redis.createGroup(stream, group: "g") == true)
        #expect(try await redis.createGroup(stream, group: "g") == false)  // BUSYGROUP is fine

        let binary: [UInt8] = Array(0...255)
        let ids = try await redis.xaddAtomically(
            stream, [[("n", Array("1".utf8)), ("bin", binary)], [("n", Array("2".utf8))], [("n", Array("3".utf8))]])
        #expect(ids.count == 3)
        #expect(try await redis.xlen(stream) == 3)

        let first = try await redis.readGroup(stream, group: "g", consumer: "c1", count: 2, blockMilliseconds: 100)
        #expect(first.map(\.id) == Array(ids.prefix(2)))
        #expect(first[0].fields["bin"] == binary)
        let second = try await redis.readGroup(stream, group: "g", consumer: "c2", count: 10, blockMilliseconds: 100)
        #expect(second.map(\.id) == [ids[2]])
        #expect(try await redis.readGroup(stream, group: "g", consumer: "c2", count: 10, blockMilliseconds: 100).isEmpty)

        let summary = try await redis.pendingSummary(stream, group: "g")
        #expect(summary.count == 3)
        #expect(summary.consumers == ["c1": 2, "c2": 1])

        #expect(try await redis.ack(stream, group: "g", ids: [ids[2]]) == 1)
        try await Task.sleep(for: .milliseconds(150))
        // c1 "died": its two entries are taken over once idle long enough.
        let notYet = try await redis.autoClaim(stream, group: "g", consumer: "c3", minIdleMilliseconds: 60_000, count: 10)
        #expect(notYet.entries.isEmpty)
        let claimed = try await redis.autoClaim(stream, group: "g", consumer: "c3", minIdleMilliseconds: 100, count: 10)
        #expect(claimed.entries.map(\.id) == Array(ids.prefix(2)))
        #expect(claimed.deletedIds.isEmpty)
        let details = try await redis.pending(stream, group: "g", count: 10)
        #expect(details.map(\.consumer) == ["c3", "c3"])
        #expect(details.allSatisfy { $0.deliveries == 2 })

        // An entry trimmed while pending is reported as deleted, not silently skipped.
        _ = try await redis.send(RedisCommand("XDEL", [RESPArgument(stream), RESPArgument(ids[0])]))
        try await Task.sleep(for: .milliseconds(150))
        let afterDelete = try await redis.autoClaim(stream, group: "g", consumer: "c4", minIdleMilliseconds: 100, count: 10)
        #expect(afterDelete.deletedIds == [ids[0]])
        #expect(afterDelete.entries.map(\.id) == [ids[1]])
        try await redis.del([stream])
        await redis.close()
    }

    /// The ingress's one write: events, quarantine entries within the budget, and the guard, all
    /// or (guard already there) nothing; and it still runs after Redis forgot its scripts.
    @Test func storeRequestIsAllOrNothingAndOncePerGuard() async throws {
        let redis = TestEnvironment.redis()
        let stream = TestEnvironment.unique("pw:guarded")
        let quarantine = TestEnvironment.unique("pw:quarantine")
        let guardKey = TestEnvironment.unique("pw:seen")
        let budget = TestEnvironment.unique("pw:qb")
        let entries: [RedisClient.Fields] = [[("a", [1])], [("b", [2]), ("c", [3])]]
        func store() async throws -> RedisClient.StoreReply? {
            try await redis.storeRequest(
                stream: stream, events: entries, guardKey: guardKey, nonceTTL: 60, quarantineStream: quarantine,
                quarantine: [[("body", [9])], [("body", [8])]], budgetKey: budget, budget: (1, 1000))
        }
        let first = try await store()
        #expect(first?.appended == 2 && first?.quarantined == 1 && first?.overBudget == 1, "\(String(describing: first))")
        #expect(try await store() == nil, "a guard already set stores nothing")
        #expect(try await redis.xlen(stream) == 2)
        #expect(try await redis.xlen(quarantine) == 1)
        let read = try await redis.xrange(stream, count: 10)
        #expect(read[1].fields == ["b": [2], "c": [3]])
        let ttl = try await redis.send(RedisCommand("TTL", [RESPArgument(guardKey)])).integer ?? -1
        #expect((1...60).contains(ttl))

        // After SCRIPT FLUSH (as after a restart) EVALSHA answers NOSCRIPT: sent again in full.
        _ = try await redis.send(RedisCommand("SCRIPT", ["FLUSH"]))
        _ = try await redis.del([guardKey])
        #expect(try await store()?.appended == 2)
        try await redis.del([stream, quarantine, guardKey, budget])
        await redis.close()
    }

    @Test func concurrentCallersPipelineOnSharedConnections() async throws {
        let redis = TestEnvironment.redis()
        let stream = TestEnvironment.unique("pw:pipeline")
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for task in 0..<50 {
                group.addTask {
                    try await redis.xaddAtomically(stream, (0..<10).map { [("t", Array("\(task)-\($0)".utf8))] })
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(Set(ids).count == 500)
        #expect(try await redis.xlen(stream) == 500)
        try await redis.del([stream])
        await redis.close()
    }

    @Test func reconnectsAfterTheServerDropsItsConnections() async throws {
        let redis = TestEnvironment.redis()
        // Both pooled connections (round robin), then kill exactly those from another client.
        let ids = [try await redis.send(RedisCommand("CLIENT", ["ID"])), try await redis.send(RedisCommand("CLIENT", ["ID"]))]
        let killer = TestEnvironment.redis()
        for id in ids.compactMap(\.integer) {
            _ = try await killer.send(RedisCommand("CLIENT", ["KILL", "ID", RESPArgument(Int(id))]))
        }
        await killer.close()
        try await Task.sleep(for: .milliseconds(100))
        // The killed connections are noticed and remade; at most one call sees the break.
        var failures = 0
        for _ in 0..<4 {
            do { try await redis.ping() } catch { failures += 1 }
        }
        #expect(failures <= 2)
        try await redis.ping()
        await redis.close()
    }
}

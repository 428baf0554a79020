import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

/// What the console reads from the call log (spend series, breakdowns, pages of calls) equals, on every
/// backend, a computation from the logged records themselves; on PostgreSQL hour and day series come
/// from the rollup its triggers keep, so this also checks the rollup's denied counts through
/// placeholders, replacements and closed calls.
@Suite struct CallReadConformanceTests {
    static let t0 = SpendWindowConformanceTests.t0
    static let hour: TimeInterval = 3600

    /// The spend suite's calls, every sixth one denied with an error code, plus five calls in one
    /// millisecond (their order is by id alone).
    static func load(_ store: any Store) async throws -> [CallRecord] {
        func call(_ i: Int, outcome: Outcome = .ok, cost: Int64 = 1) -> CallRecord {
            var record = SpendWindowConformanceTests.call(i, outcome: outcome, cost: cost)
            if outcome == .ok, i % 6 == 0 {
                record.outcome = .denied
                record.errorCode = ["budget_exceeded", "ip_not_allowed", "rate_limited"][i / 6 % 3]
                record.status = 403
            }
            return record
        }
        try await store.append((0..<200).map { call($0) })
        try await store.append((200..<240).map { call($0, outcome: .inFlight, cost: 5) })
        try await store.append((200..<220).map { call($0) })
        _ = try await store.closeInFlight()
        try await store.append((220..<230).map { call($0, outcome: $0 % 2 == 0 ? .denied : .clientCancelled) })
        let tie = t0.addingTimeInterval(5 * hour + 0.25)
        try await store.append(
            ["req_tie_c", "req_tie_a", "req_tie_e", "req_tie_b", "req_tie_d"].map { id in
                var record = call(7)
                record.id = id
                record.time = tie
                return record
            })
        let logged = try await store.calls(matching: CallQuery(limit: 10_000))
        #expect(logged.count == 245)
        return logged
    }

    @Test(arguments: Backend.available)
    func seriesEqualTheLoggedCalls(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let logged = try await Self.load(store)
        let edges = [-1, 0, 0.5, 7.25, 13, 29.9, 31].map { Self.t0.addingTimeInterval($0 * Self.hour) }
        var compared = 0
        for since in edges {
            for until in edges where since < until {
                for bucket in SeriesBucket.allCases {
                    for grouping in [nil] + SpendGrouping.allCases.map(Optional.some) {
                        for keyID in [nil, "key_1", "key_none"] {
                            let query = SpendSeriesQuery(bucket: bucket, groupBy: grouping, keyID: keyID, since: since, until: until)
                            let points = try await store.spendSeries(query)
                            #expect(
                                points == query.series(of: logged),
                                "\(bucket) \(String(describing: grouping)) \(String(describing: keyID)) \(since) ..< \(until)")
                            compared += 1
                        }
                    }
                }
            }
        }
        #expect(compared == 21 * 3 * 6 * 3)
        // By hand once: the whole log by day equals spend's totals, and counts its denials.
        let whole = SpendSeriesQuery(bucket: .day, since: Self.t0.addingTimeInterval(-86400), until: Self.t0.addingTimeInterval(3 * 86400))
        let points = try await store.spendSeries(whole)
        let spend = try await store.spend(SpendQuery(groupBy: .env))
        #expect(points.reduce(0) { $0 + $1.calls } == spend.reduce(0) { $0 + $1.calls })
        #expect(points.reduce(Money.zero) { $0 + $1.cost } == spend.reduce(Money.zero) { $0 + $1.cost })
        #expect(points.reduce(0) { $0 + $1.denied } == logged.filter { $0.outcome == .denied }.count)
        #expect(points.allSatisfy { $0.start.timeIntervalSince1970.truncatingRemainder(dividingBy: 86400) == 0 })
        // One key's series holds its calls and no other key's.
        let ofKey = try await store.spendSeries(
            SpendSeriesQuery(bucket: .hour, groupBy: .key, keyID: "key_1", since: whole.since, until: whole.until))
        #expect(!ofKey.isEmpty && ofKey.allSatisfy { $0.group == "key_1" })
        #expect(ofKey.reduce(0) { $0 + $1.calls } == logged.filter { $0.keyID == "key_1" && $0.outcome != .inFlight }.count)
    }

    @Test(arguments: Backend.available)
    func breakdownsEqualTheLoggedCalls(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let logged = try await Self.load(store)
        for by in BreakdownDimension.allCases {
            for (keyID, env) in [(nil, nil), ("key_1", nil), (nil, "prod"), ("key_0", "dev"), ("key_none", nil)] {
                for (since, until) in [(nil, nil), (Self.t0.addingTimeInterval(Self.hour / 2), Self.t0.addingTimeInterval(13 * Self.hour))]
                {
                    let query = BreakdownQuery(by: by, keyID: keyID, env: env, since: since, until: until)
                    #expect(try await store.callBreakdown(query) == query.breakdown(of: logged), "\(by) \(String(describing: keyID))")
                }
            }
        }
        let codes = try await store.callBreakdown(BreakdownQuery(by: .errorCode, keyID: "key_1"))
        #expect(codes.first?.value == "")
        #expect(Set(codes.map(\.value)).isSuperset(of: ["budget_exceeded", "ip_not_allowed", "rate_limited"]))
        let limited = try await store.callBreakdown(BreakdownQuery(by: .model, limit: 2))
        #expect(limited.count == 2)
    }

    @Test(arguments: Backend.available)
    func pagesWalkTheLogWithoutSkippingOrRepeating(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let logged = try await Self.load(store)
        #expect(logged.map(CallCursor.init) == logged.map(CallCursor.init).sorted(by: >))
        let filters = [
            CallQuery(), CallQuery(keyID: "key_2"), CallQuery(env: "prod"), CallQuery(model: "o3"), CallQuery(outcome: .denied),
            CallQuery(outcome: .interrupted),
            CallQuery(since: Self.t0.addingTimeInterval(2 * Self.hour), until: Self.t0.addingTimeInterval(9 * Self.hour)),
        ]
        for filter in filters {
            let expected = logged.filter(filter.matches).map(\.id)
            #expect(!expected.isEmpty)
            var walked: [String] = []
            var query = filter
            query.limit = 7
            while true {
                let page = try await store.calls(matching: query)
                walked += page.map(\.id)
                guard page.count == query.limit, let last = page.last else { break }
                // Every cursor goes through its text form, as a client passes it back.
                query.after = CallCursor(token: CallCursor(last).token)
                #expect(query.after == CallCursor(last))
            }
            #expect(walked == expected, "\(filter)")
        }
        // The five calls of one millisecond, split across pages, in id order.
        var query = CallQuery(
            since: Self.t0.addingTimeInterval(5 * Self.hour), until: Self.t0.addingTimeInterval(5 * Self.hour + 1), limit: 2)
        var ties: [String] = []
        while true {
            let page = try await store.calls(matching: query)
            guard let last = page.last else { break }
            ties += page.map(\.id)
            query.after = CallCursor(last)
        }
        #expect(ties == ["req_tie_e", "req_tie_d", "req_tie_c", "req_tie_b", "req_tie_a"])
    }

    @Test(arguments: Backend.available)
    func lastClientAddressesAreEachKeysLatest(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var logged = try await Self.load(store)
        // A later call of key_1 from a new address, and a still later one with none, which does not count.
        var moved = SpendWindowConformanceTests.call(1)
        moved.id = "req_moved"
        moved.time = Self.t0.addingTimeInterval(40 * Self.hour)
        moved.clientIP = "192.0.2.9"
        var unknown = moved
        unknown.id = "req_unknown"
        unknown.time = moved.time.addingTimeInterval(60)
        unknown.clientIP = nil
        try await store.append([moved, unknown])
        logged += [moved, unknown]
        var expected: [String: CallRecord] = [:]
        for call in logged where call.keyID != nil && call.clientIP != nil {
            if expected[call.keyID!].map({ CallCursor($0) < CallCursor(call) }) ?? true { expected[call.keyID!] = call }
        }
        #expect(try await store.lastClientAddresses() == expected.mapValues { $0.clientIP! })
        #expect(try await store.lastClientAddresses()["key_1"] == "192.0.2.9")
    }

    @Test func cursorsRefuseWhatTheyDidNotMake() {
        let cursor = CallCursor(time: 1_764_000_000_123, id: "req_Ab9")
        #expect(CallCursor(token: cursor.token) == cursor)
        #expect(cursor.token.wholeMatch(of: try! Regex(CallCursor.pattern)) != nil)
        for bad in ["", "x", "1.", ".72", "12.7", "12.7G", "12.7A", "12.00", "12.6100", "1234567890123456.72", "-1.72", "1.72.72", "1 .72"]
        {
            #expect(CallCursor(token: bad) == nil, "\(bad)")
        }
    }
}

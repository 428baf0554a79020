import Foundation
import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// The call log's read routes: pages of calls, spend totals, spend over time and breakdowns.
struct CallRoutes: Sendable {
    let calls: any CallLog

    /// The most buckets one series answers: a day of minutes, two months of hours, four years of days.
    static let maximumBuckets = 1440

    func register(on group: RouterGroup<GatewayContext>) {
        group.get("calls") { request, _ in try await page(request.uri.queryParameters) }
        group.get("calls/breakdown") { request, _ in try await breakdown(request.uri.queryParameters) }
        group.get("spend") { request, _ in
            let query = request.uri.queryParameters
            var spendQuery = SpendQuery()
            if let group = query.get("group_by") {
                guard let grouping = SpendGrouping(rawValue: group) else {
                    throw GatewayError.invalidRequest("'group_by' must be one of key, env, model, owner, provider.")
                }
                spendQuery.groupBy = grouping
            }
            if let since = query.get("since") { spendQuery.since = try AdminContract.since(since) }
            if let until = query.get("until") { spendQuery.until = try AdminContract.since(until, parameter: "until") }
            let rows = try await calls.spend(spendQuery)
            return try AdminRoutes.json(
                SpendReport(groupBy: spendQuery.groupBy, since: spendQuery.since, until: spendQuery.until, rows: rows))
        }
        group.get("spend/series") { request, _ in
            let query = try Self.seriesQuery(request.uri.queryParameters, now: Date())
            return AdminRoutes.json(status: .ok, bytes: SpendSeriesReport(query, points: try await calls.spendSeries(query)).json())
        }
    }

    /// Newest first; asks for one call more than the page holds, so `next_cursor` is given only when
    /// another page follows.
    private func page(_ query: Parameters) async throws -> Response {
        var callQuery = CallQuery(keyID: query.get("key_id"), env: query.get("env"), model: query.get("model"))
        if let outcome = query.get("outcome") {
            guard let value = Outcome(rawValue: outcome) else {
                throw GatewayError.invalidRequest(
                    "'outcome' must be one of \(Outcome.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            callQuery.outcome = value
        }
        if let since = query.get("since") { callQuery.since = try AdminContract.since(since) }
        if let until = query.get("until") { callQuery.until = try AdminContract.since(until, parameter: "until") }
        if let cursor = query.get("cursor") {
            guard let after = CallCursor(token: cursor) else {
                throw GatewayError.invalidRequest("'cursor' must be a next_cursor this API returned.")
            }
            callQuery.after = after
        }
        let limit = try AdminRoutes.limit(query.get("limit"), default: callQuery.limit, maximum: 10_000)
        callQuery.limit = limit + 1
        let found = try await calls.calls(matching: callQuery)
        let page = Array(found.prefix(limit))
        let next = found.count > limit ? page.last.map { CallCursor($0).token } : nil
        return try AdminRoutes.json(CallPage(data: page, nextCursor: next))
    }

    private func breakdown(_ query: Parameters) async throws -> Response {
        guard let by = query.get("by").flatMap(BreakdownDimension.init(rawValue:)) else {
            throw GatewayError.invalidRequest(
                "'by' must be one of \(BreakdownDimension.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        var breakdownQuery = BreakdownQuery(by: by, keyID: query.get("key_id"), env: query.get("env"))
        if let since = query.get("since") { breakdownQuery.since = try AdminContract.since(since) }
        if let until = query.get("until") { breakdownQuery.until = try AdminContract.since(until, parameter: "until") }
        return try AdminRoutes.json(BreakdownReport(by: by, data: try await calls.callBreakdown(breakdownQuery)))
    }

    /// The series a request asks for: `bucket` (hour unless given), `group_by` (none unless given), the
    /// calls of `key_id` only when given, and
    /// a window ending at `until` (now unless given) and starting at `since` (unless given, the start of
    /// the bucket ``SeriesBucket/defaultCount`` buckets back, counting the one `until` is in).
    static func seriesQuery(_ query: Parameters, now: Date) throws -> SpendSeriesQuery {
        let bucketText = query.get("bucket") ?? SeriesBucket.hour.rawValue
        guard let bucket = SeriesBucket(rawValue: bucketText) else {
            throw GatewayError.invalidRequest("'bucket' must be one of minute, hour, day.")
        }
        var grouping: SpendGrouping?
        if let group = query.get("group_by"), group != "none" {
            guard let value = SpendGrouping(rawValue: group) else {
                throw GatewayError.invalidRequest("'group_by' must be one of none, key, env, model, owner, provider.")
            }
            grouping = value
        }
        let until = try query.get("until").map { try AdminContract.since($0, parameter: "until", now: now) } ?? now
        let since =
            try query.get("since").map { try AdminContract.since($0, now: now) }
            ?? Date(
                milliseconds: bucket.start(of: until.milliseconds) - Int64(bucket.defaultCount - 1) * bucket.milliseconds)
        let series = SpendSeriesQuery(bucket: bucket, groupBy: grouping, keyID: query.get("key_id"), since: since, until: until)
        guard series.bucketCount <= maximumBuckets else {
            throw GatewayError.invalidRequest(
                "The window holds \(series.bucketCount) \(bucket.rawValue) buckets; at most \(maximumBuckets) are answered: narrow it or use a larger bucket."
            )
        }
        return series
    }
}

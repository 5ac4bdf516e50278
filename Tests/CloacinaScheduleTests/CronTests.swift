import CloacinaSchedule
import Foundation
import Testing

/// The cron suites (`swift test --filter CronTests`); each file adds one nested suite.
@Suite("Cron")
struct CronTests {}

/// Milliseconds since the epoch of a UTC time written `2024-03-10T07:00:00Z` (optionally with `.250`).
func utc(_ text: String) -> Int64 {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions =
        text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { fatalError("bad test time \(text)") }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// `2024-03-10T07:00:00Z` for milliseconds since the epoch (whole seconds).
func utcText(_ milliseconds: Int64?) -> String {
    guard let milliseconds else { return "nil" }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// The wall-clock time a schedule's zone shows at `milliseconds`: `2024-03-10 03:00:00 -04:00`.
func localText(_ milliseconds: Int64?, _ zone: String) -> String {
    guard let milliseconds else { return "nil" }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: zone)
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// The next `count` fire times after `after`, as UTC text.
func nextFires(_ schedule: CronSchedule, after: Int64, count: Int) -> [String] {
    schedule.fires(after: after, through: Int64.max, limit: count).map(utcText)
}

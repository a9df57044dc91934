import Foundation

/// The last run as Prometheus text (exposition format 0.0.4), for node_exporter's textfile
/// collector after a cron run, or appended to `/metrics`. Pure, so its output is tested byte for
/// byte; the caller writes the file atomically (temp file + rename) so the collector never reads
/// half of it.
public enum ReconcileMetrics {
    /// `labels` are added to every sample (e.g. `["scope": report.run.scope]` when several scopes
    /// share one file). Every kind is listed, zeros included, so an alert can tell "none" from
    /// "not reported".
    public static func textfile(for report: ReconcileReport, labels: [String: String] = [:]) -> String {
        var out = ""
        func family(_ name: String, help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        }
        func sample(_ name: String, _ own: [(String, String)], _ value: String) {
            let extra: [(String, String)] = labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            let all = own + extra.filter { label in !own.contains { $0.0 == label.0 } }
            let rendered = all.isEmpty ? "" : "{" + all.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(rendered) \(value)\n"
        }

        family("stableid_reconcile_findings_open", help: "Open reconciliation findings per kind after the last run.")
        for kind in FindingKind.allCases.sorted() {
            sample("stableid_reconcile_findings_open", [("kind", kind.rawValue)], String(report.counts[kind]))
        }
        family("stableid_reconcile_last_run_timestamp_seconds", help: "When the last reconciliation run finished (Unix time).")
        sample("stableid_reconcile_last_run_timestamp_seconds", [], seconds(report.run.finishedAt ?? report.run.startedAt))
        family("stableid_reconcile_users_scanned", help: "Cognito users the last reconciliation run read, per pool.")
        for (pool, count) in report.run.scanned.sorted(by: { $0.key < $1.key }) {
            sample("stableid_reconcile_users_scanned", [("pool", pool)], String(count))
        }
        return out
    }

    /// Label values escape backslash, double quote and line feed (the format's only escapes).
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Unix seconds with millisecond precision, without `String(format:)` (not in FoundationEssentials).
    static func seconds(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let whole = milliseconds / 1000
        let fraction = milliseconds - whole * 1000
        guard fraction != 0 else { return String(whole) }
        var digits = String(repeating: "0", count: 3 - String(fraction).count) + String(fraction)
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

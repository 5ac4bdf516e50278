public import Cloacina
internal import Prometheus
internal import Synchronization

/// The daemon's metrics, fed from execution events and reloads, exported in Prometheus' text format.
///
/// Its own registry (not the process-wide `MetricsSystem`), so several daemons in one process (tests) do not mix.
/// Labels are tenant ids and statuses only: bounded sets, never execution ids.
public final class DaemonMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// When each running attempt started, to time it: "tenant/execution/task" → milliseconds.
    private let attemptStarts = Mutex<[String: Int64]>([:])
    /// What each schedule's counters stood at when last exported: "tenant/schedule/kind" → count.
    private let scheduleCounts = Mutex<[String: Int]>([:])
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
        .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600),
    ]

    init() {
        // Families that exist before the first event, so a scrape always shows them.
        _ = registry.makeCounter(descriptor: Self.reloads, labels: [("result", "ok")])
        _ = registry.makeCounter(descriptor: Self.reloads, labels: [("result", "failed")])
        _ = registry.makeGauge(descriptor: Self.loadErrors)
    }

    /// Counts what `event` tells about `tenant`'s executions.
    func record(_ event: ExecutionEvent, tenant: String) {
        switch event.kind {
        case .executionStarted, .executionResumed:
            registry.makeGauge(descriptor: Self.active, labels: [("tenant", tenant)]).increment()
            registry.makeCounter(descriptor: Self.claimed, labels: [("tenant", tenant)]).increment()
            countExecution(event.kind, tenant: tenant)
            if event.kind == .executionResumed {
                registry.makeCounter(descriptor: Self.takeovers, labels: [("tenant", tenant)]).increment()
            }
        case .executionCompleted, .executionFailed, .executionCancelled:
            registry.makeGauge(descriptor: Self.active, labels: [("tenant", tenant)]).decrement()
            countExecution(event.kind, tenant: tenant)
        case .executionCreated, .executionWaiting, .executionPaused, .executionUnpaused:
            break
        case .taskStarted:
            guard let task = event.taskID else { return }
            attemptStarts.withLock { $0["\(tenant)/\(event.executionID)/\(task)"] = event.at.milliseconds }
        case .taskCompleted, .taskFailed, .taskCancelled, .taskRetryScheduled:
            // Every way an attempt ends, a scheduled retry included, so no start is left behind.
            guard let task = event.taskID else { return }
            countTask(event.kind, tenant: tenant)
            let key = "\(tenant)/\(event.executionID)/\(task)"
            if let started = attemptStarts.withLock({ $0.removeValue(forKey: key) }) {
                registry.makeDurationHistogram(
                    descriptor: Self.taskDuration,
                    labels: [("tenant", tenant)],
                    buckets: Self.buckets
                )
                .record(.milliseconds(max(0, event.at.milliseconds - started)))
            }
        case .taskSkipped, .taskRecovered, .taskNotStarted, .taskReused:
            guard event.taskID != nil else { return }
            countTask(event.kind, tenant: tenant)
        }
    }

    /// Counts an execution event; the `status` label is the kind without `execution_` (`completed`, ...).
    private func countExecution(_ kind: ExecutionEvent.Kind, tenant: String) {
        let status = String(kind.rawValue.dropFirst("execution_".count))
        registry.makeCounter(descriptor: Self.executions, labels: [("tenant", tenant), ("status", status)]).increment()
    }

    /// Counts a task event; the `status` label is the kind without `task_` (`completed`, `retry_scheduled`, ...).
    private func countTask(_ kind: ExecutionEvent.Kind, tenant: String) {
        let status = String(kind.rawValue.dropFirst("task_".count))
        registry.makeCounter(descriptor: Self.tasks, labels: [("tenant", tenant), ("status", status)]).increment()
    }

    /// Counts a reload and sets the number of files whose current content fails to load.
    func reloaded(failures: Int, loadErrors: Int) {
        registry.makeCounter(descriptor: Self.reloads, labels: [("result", failures == 0 ? "ok" : "failed")])
            .increment()
        registry.makeGauge(descriptor: Self.loadErrors).set(Double(loadErrors))
    }

    /// Sets whether `tenant` is in service (`cloacina_tenant_unavailable{tenant}` is 1 while its store fails to
    /// open).
    func tenantAvailable(_ tenant: String, _ available: Bool) {
        registry.makeGauge(descriptor: Self.tenantUnavailable, labels: [("tenant", tenant)]).set(available ? 0.0 : 1.0)
    }

    /// Counts a task worker process that died unasked (`cloacina_worker_crashes_total{package,version,signal}`).
    func workerCrashed(_ key: WorkerCrashes.Key) {
        registry.makeCounter(
            descriptor: Self.workerCrashes,
            labels: [("package", key.package), ("version", key.version), ("signal", key.signal)]
        )
        .increment()
    }

    /// A package version was quarantined; `count` are quarantined now.
    func quarantineStarted(_ entry: QuarantineEntry, count: Int) {
        registry.makeCounter(
            descriptor: Self.quarantines,
            labels: [("package", entry.package), ("version", entry.version)]
        )
        .increment()
        quarantined(count: count)
    }

    /// `count` package versions are quarantined now.
    func quarantined(count: Int) {
        registry.makeGauge(descriptor: Self.quarantinedNow).set(Double(count))
    }

    /// `count` hosts are live among those sharing the served tenants (`cloacina_hosts_live`).
    func hostsLive(_ count: Int) {
        registry.makeGauge(descriptor: Self.hostsLive).set(Double(count))
    }

    /// Brings the schedule counters (`cloacina_schedule_fires_total`, `…_missed_total`, `…_skipped_total` by
    /// policy) up to what the tenants' runners counted, and sets `cloacina_schedule_next_fire_timestamp_seconds`.
    func schedules(_ counters: [String: [String: ScheduleCounters]], next: [String: [String: Timestamp]]) {
        for (tenant, schedules) in counters {
            for (schedule, counted) in schedules {
                let labels = [("tenant", tenant), ("schedule", schedule)]
                let kinds: [(String, MetricNameDescriptor, [(String, String)], Int)] = [
                    ("fires", Self.scheduleFires, labels, counted.fires),
                    ("missed", Self.scheduleMissed, labels, counted.missed),
                    ("overlap", Self.scheduleSkipped, labels + [("policy", "overlap")], counted.skippedByOverlap),
                    ("catch-up", Self.scheduleSkipped, labels + [("policy", "catch-up")], counted.droppedByCatchUp),
                ]
                for (kind, descriptor, labels, count) in kinds {
                    let key = "\(tenant)/\(schedule)/\(kind)"
                    let delta = scheduleCounts.withLock { counts in
                        defer { counts[key] = count }
                        return count - (counts[key] ?? 0)
                    }
                    let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
                    if delta > 0 { counter.increment(by: Int64(delta)) }
                }
            }
        }
        for (tenant, schedules) in next {
            for (schedule, at) in schedules {
                registry.makeGauge(
                    descriptor: Self.scheduleNextFire,
                    labels: [("tenant", tenant), ("schedule", schedule)]
                ).set(Double(at.milliseconds) / 1000)
            }
        }
    }

    /// Every metric in Prometheus' text exposition format.
    public func exposition() -> String {
        registry.emitToString()
    }

    private static var executions: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "executions",
            unitName: "total",
            helpText: "Executions started, resumed and ended (completed, failed, cancelled), by tenant"
        )
    }

    private static var claimed: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "executions_claimed",
            unitName: "total",
            helpText: "Executions this host claimed to run (started here, or taken over), by tenant"
        )
    }

    private static var hostsLive: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "hosts_live",
            helpText: "Live hosts sharing the tenants this host serves (itself included), as of the last scrape"
        )
    }

    private static var takeovers: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "takeovers",
            unitName: "total",
            helpText: "Executions this host took over from a runner that left them (another host, or this one before a "
                + "restart), by tenant"
        )
    }
    private static var active: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "active",
            unitName: "executions",
            helpText: "Executions running in this host, by tenant"
        )
    }
    private static var tasks: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "tasks",
            unitName: "total",
            helpText: "Task outcomes (completed, failed, skipped, cancelled, retry_scheduled, recovered), by tenant"
        )
    }
    private static var taskDuration: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "task_duration",
            unitName: "seconds",
            helpText: "Duration of task attempts, by tenant"
        )
    }
    private static var reloads: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "reloads",
            unitName: "total",
            helpText: "Reloads of the drop directory, by result (failed: at least one file failed to load)"
        )
    }
    private static var tenantUnavailable: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "tenant",
            unitName: "unavailable",
            helpText: "1 while a tenant is out of service because its store failed to open, by tenant"
        )
    }
    private static var workerCrashes: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "worker_crashes",
            unitName: "total",
            helpText: "Task worker processes that died unasked, by package, version and signal (exit, protocol)"
        )
    }
    private static var quarantines: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "quarantines",
            unitName: "total",
            helpText: "Package versions quarantined because their tasks kept killing worker processes"
        )
    }
    private static var quarantinedNow: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "packages",
            unitName: "quarantined",
            helpText: "Package versions quarantined now (new executions of their workflows are refused)"
        )
    }
    private static var scheduleFires: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "schedule_fires",
            unitName: "total",
            helpText: "Executions a schedule started on this host (fires and backfills), by tenant and schedule"
        )
    }
    private static var scheduleMissed: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "schedule_missed",
            unitName: "total",
            helpText: "Fire times that came while no host watched the schedule, by tenant and schedule"
        )
    }
    private static var scheduleSkipped: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "schedule_skipped",
            unitName: "total",
            helpText: "Due fire times not run, by tenant, schedule and the policy that left them out (overlap, "
                + "catch-up)"
        )
    }
    private static var scheduleNextFire: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "schedule_next_fire",
            unitName: "timestamp_seconds",
            helpText: "When a schedule fires next, in seconds since 1970, as this host last looked, by tenant and "
                + "schedule"
        )
    }
    private static var loadErrors: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "cloacina",
            metricName: "package_load",
            unitName: "errors",
            helpText: "Files of the drop directory whose current content failed to load"
        )
    }
}

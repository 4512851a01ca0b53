import CoreMetrics
import Metrics
import Prometheus
import SandboxProtocol

/// What `GET /metrics` reports, in Prometheus text format. Each server has a
/// registry of its own (no process-wide bootstrap), so several servers in one
/// process (tests) keep their figures apart.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let runDuration: Metrics.Timer
    private let sandboxStart: Metrics.Timer
    private let queueDepthGauge: CoreMetrics.Gauge
    private let warmReadyGauge: CoreMetrics.Gauge
    private let connectionsGauge: CoreMetrics.Gauge
    private let sessionsGauge: CoreMetrics.Gauge
    /// Every metric carries the node's name, so a cluster's figures can be told apart.
    private let node: (String, String)

    init(node: String) {
        self.node = ("node", node)
        var factory = PrometheusMetricsFactory(registry: registry)
        let seconds: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                   .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
        factory.defaultDurationHistogramBuckets = seconds
        self.factory = factory
        runDuration = Metrics.Timer(label: "pysandbox_run_duration_seconds", dimensions: [self.node], factory: factory)
        sandboxStart = Metrics.Timer(label: "pysandbox_sandbox_start_seconds", dimensions: [self.node], factory: factory)
        queueDepthGauge = CoreMetrics.Gauge(label: "pysandbox_queue_depth", dimensions: [self.node], factory: factory)
        warmReadyGauge = CoreMetrics.Gauge(label: "pysandbox_warm_sandboxes_ready", dimensions: [self.node], factory: factory)
        connectionsGauge = CoreMetrics.Gauge(label: "pysandbox_connections", dimensions: [self.node], factory: factory)
        sessionsGauge = CoreMetrics.Gauge(label: "pysandbox_sessions", dimensions: [self.node], factory: factory)
    }

    /// The registry in Prometheus text format.
    func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    /// A run's verdict, counted for its tenant (`default` without `--tenants`).
    func runFinished(_ result: RunResult, tenant: String) {
        let tenant = ("tenant", tenant)
        Counter(label: "pysandbox_runs_total", dimensions: [node, ("status", result.status.rawValue), tenant], factory: factory).increment()
        FloatingPointCounter(label: "pysandbox_cpu_seconds_total", dimensions: [node, tenant], factory: factory)
            .increment(by: Double(result.cpuMs) / 1000)
        runDuration.recordMilliseconds(result.wallMs)
        Metrics.Timer(label: "pysandbox_queue_wait_seconds", dimensions: [node, tenant], factory: factory).recordMilliseconds(result.queuedMs)
    }

    func streamed(_ bytes: Int, stream: String) {
        Counter(label: "pysandbox_output_bytes_total", dimensions: [node, ("stream", stream)], factory: factory).increment(by: bytes)
    }

    func displayed() {
        Counter(label: "pysandbox_displays_total", dimensions: [node], factory: factory).increment()
    }

    /// An idle session gave its place to another client (PROTOCOL.md §4.8).
    func sessionReclaimed() {
        Counter(label: "pysandbox_sessions_reclaimed_total", dimensions: [node], factory: factory).increment()
    }

    /// `tenant`: whose request it was, "" when that is not known (a wrong token, a connection refused before its token is read).
    func rejected(_ reason: String, tenant: String = "") {
        Counter(label: "pysandbox_rejected_total", dimensions: [node, ("reason", reason), ("tenant", tenant)], factory: factory).increment()
    }

    func sandboxStarted(after duration: Duration) {
        sandboxStart.recordNanoseconds(Int64(duration / .nanoseconds(1)))
    }

    /// A write of tenants' usage failed (kept and tried again): the store is down or full.
    func usageStoreFailed() {
        Counter(label: "pysandbox_usage_store_failures_total", dimensions: [node], factory: factory).increment()
    }

    /// An audit line not written: the log fell behind by more than its buffer.
    func auditDropped() {
        Counter(label: "pysandbox_audit_lines_dropped_total", dimensions: [node], factory: factory).increment()
    }

    /// A write to the audit log failed (its lines are lost): a full disk, a removed file system.
    func auditWriteFailed() {
        Counter(label: "pysandbox_audit_write_failures_total", dimensions: [node], factory: factory).increment()
    }

    /// A SIGHUP's reload of the tenants file: taken, or refused (the old tenants stay).
    func tenantsReloaded(ok: Bool) {
        Counter(label: "pysandbox_tenant_reloads_total", dimensions: [node, ("outcome", ok ? "ok" : "refused")], factory: factory).increment()
    }

    func queueDepth(_ depth: Int) { queueDepthGauge.record(depth) }
    func warmReady(_ count: Int) { warmReadyGauge.record(count) }
    func connections(_ count: Int) { connectionsGauge.record(count) }
    func sessions(_ count: Int) { sessionsGauge.record(count) }
}

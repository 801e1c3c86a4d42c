package io.legate.upstream;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.Histogram;
import io.legate.stats.StatsStore;

/**
 * The stats of one cluster, created once under {@code cluster.<name>.} with Envoy's names and held
 * here so that the data path increments fields and never looks a name up.
 */
public final class ClusterStats {
  private static final int CODES = 600;

  private final StatsStore.Scope scope;

  public final Counter upstreamCxTotal;
  public final Gauge upstreamCxActive;
  public final Counter upstreamCxHttp1Total;
  public final Counter upstreamCxHttp2Total;
  public final Counter upstreamCxConnectFail;
  public final Counter upstreamCxConnectTimeout;
  public final Counter upstreamCxOverflow;
  public final Counter upstreamCxDestroy;
  public final Counter upstreamCxDestroyLocal;
  public final Counter upstreamCxDestroyRemote;
  public final Counter upstreamCxDestroyWithActiveRq;
  public final Counter upstreamCxDestroyLocalWithActiveRq;
  public final Counter upstreamCxDestroyRemoteWithActiveRq;
  public final Counter upstreamCxCloseNotify;
  public final Counter upstreamCxProtocolError;
  public final Counter upstreamCxRxBytesTotal;
  public final Counter upstreamCxTxBytesTotal;
  public final Counter upstreamCxNoneHealthy;
  public final Counter upstreamFlowControlPausedReadingTotal;
  public final Counter upstreamFlowControlResumedReadingTotal;
  public final Counter upstreamFlowControlBackedUpTotal;
  public final Counter upstreamFlowControlDrainedTotal;
  public final Counter upstreamCxIdleTimeout;
  public final Counter upstreamCxMaxRequests;
  public final Counter upstreamCxPoolOverflow;
  public final Counter upstreamRqTotal;
  public final Gauge upstreamRqActive;
  public final Counter upstreamRqPendingTotal;
  public final Gauge upstreamRqPendingActive;
  public final Counter upstreamRqPendingOverflow;
  public final Counter upstreamRqPendingFailureEject;
  public final Counter upstreamRqCompleted;
  public final Counter upstreamRqTimeout;
  public final Counter upstreamRqPerTryTimeout;
  public final Counter upstreamRqPerTryIdleTimeout;
  public final Counter upstreamRqRetryBackoffRatelimited;
  public final Counter upstreamRqRxReset;
  public final Counter upstreamRqTxReset;
  public final Counter upstreamRqCancelled;
  public final Counter upstreamRqMaintenanceMode;
  public final Counter upstreamRqRetry;
  public final Counter upstreamRqRetrySuccess;
  public final Counter upstreamRqRetryOverflow;
  public final Counter upstreamRqRetryLimitExceeded;
  public final Counter upstreamRqRetryBackoffExponential;
  public final Counter retryOrShadowAbandoned;
  public final Histogram upstreamCxConnectMs;
  public final Histogram upstreamCxLengthMs;
  public final Histogram upstreamRqTime;
  public final Gauge membershipTotal;
  public final Gauge membershipHealthy;
  public final Gauge membershipDegraded;
  public final Gauge membershipExcluded;
  public final Counter membershipChange;
  public final Counter updateAttempt;
  public final Counter updateSuccess;
  public final Counter updateFailure;
  public final Counter updateEmpty;
  public final Counter updateNoRebuild;
  public final Counter lbHealthyPanic;
  public final Gauge maxHostWeight;

  private final Counter[] classCounters = new Counter[6];
  // Filled lazily; a racing first use resolves to the same Counter through the store.
  private final Counter[] codeCounters = new Counter[CODES];

  /** Creates the stats of cluster {@code clusterName} in {@code store}. */
  public ClusterStats(StatsStore store, String clusterName) {
    this.scope = store.scope("cluster." + clusterName + ".");
    upstreamCxTotal = scope.counter("upstream_cx_total");
    upstreamCxActive = scope.gauge("upstream_cx_active");
    upstreamCxHttp1Total = scope.counter("upstream_cx_http1_total");
    upstreamCxHttp2Total = scope.counter("upstream_cx_http2_total");
    upstreamCxConnectFail = scope.counter("upstream_cx_connect_fail");
    upstreamCxConnectTimeout = scope.counter("upstream_cx_connect_timeout");
    upstreamCxOverflow = scope.counter("upstream_cx_overflow");
    upstreamCxDestroy = scope.counter("upstream_cx_destroy");
    upstreamCxDestroyLocal = scope.counter("upstream_cx_destroy_local");
    upstreamCxDestroyRemote = scope.counter("upstream_cx_destroy_remote");
    upstreamCxDestroyWithActiveRq = scope.counter("upstream_cx_destroy_with_active_rq");
    upstreamCxDestroyLocalWithActiveRq = scope.counter("upstream_cx_destroy_local_with_active_rq");
    upstreamCxDestroyRemoteWithActiveRq =
        scope.counter("upstream_cx_destroy_remote_with_active_rq");
    upstreamCxCloseNotify = scope.counter("upstream_cx_close_notify");
    upstreamCxProtocolError = scope.counter("upstream_cx_protocol_error");
    upstreamCxRxBytesTotal = scope.counter("upstream_cx_rx_bytes_total");
    upstreamCxTxBytesTotal = scope.counter("upstream_cx_tx_bytes_total");
    upstreamCxNoneHealthy = scope.counter("upstream_cx_none_healthy");
    upstreamFlowControlPausedReadingTotal = scope.counter("upstream_flow_control_paused_reading_total");
    upstreamFlowControlResumedReadingTotal =
        scope.counter("upstream_flow_control_resumed_reading_total");
    upstreamFlowControlBackedUpTotal = scope.counter("upstream_flow_control_backed_up_total");
    upstreamFlowControlDrainedTotal = scope.counter("upstream_flow_control_drained_total");
    upstreamCxIdleTimeout = scope.counter("upstream_cx_idle_timeout");
    upstreamCxMaxRequests = scope.counter("upstream_cx_max_requests");
    upstreamCxPoolOverflow = scope.counter("upstream_cx_pool_overflow");
    upstreamRqTotal = scope.counter("upstream_rq_total");
    upstreamRqActive = scope.gauge("upstream_rq_active");
    upstreamRqPendingTotal = scope.counter("upstream_rq_pending_total");
    upstreamRqPendingActive = scope.gauge("upstream_rq_pending_active");
    upstreamRqPendingOverflow = scope.counter("upstream_rq_pending_overflow");
    upstreamRqPendingFailureEject = scope.counter("upstream_rq_pending_failure_eject");
    upstreamRqCompleted = scope.counter("upstream_rq_completed");
    upstreamRqTimeout = scope.counter("upstream_rq_timeout");
    upstreamRqPerTryTimeout = scope.counter("upstream_rq_per_try_timeout");
    upstreamRqPerTryIdleTimeout = scope.counter("upstream_rq_per_try_idle_timeout");
    upstreamRqRetryBackoffRatelimited = scope.counter("upstream_rq_retry_backoff_ratelimited");
    upstreamRqRxReset = scope.counter("upstream_rq_rx_reset");
    upstreamRqTxReset = scope.counter("upstream_rq_tx_reset");
    upstreamRqCancelled = scope.counter("upstream_rq_cancelled");
    upstreamRqMaintenanceMode = scope.counter("upstream_rq_maintenance_mode");
    upstreamRqRetry = scope.counter("upstream_rq_retry");
    upstreamRqRetrySuccess = scope.counter("upstream_rq_retry_success");
    upstreamRqRetryOverflow = scope.counter("upstream_rq_retry_overflow");
    upstreamRqRetryLimitExceeded = scope.counter("upstream_rq_retry_limit_exceeded");
    upstreamRqRetryBackoffExponential = scope.counter("upstream_rq_retry_backoff_exponential");
    retryOrShadowAbandoned = scope.counter("retry_or_shadow_abandoned");
    upstreamCxConnectMs = scope.histogram("upstream_cx_connect_ms");
    upstreamCxLengthMs = scope.histogram("upstream_cx_length_ms");
    upstreamRqTime = scope.histogram("upstream_rq_time");
    membershipTotal = scope.gauge("membership_total");
    membershipHealthy = scope.gauge("membership_healthy");
    membershipDegraded = scope.gauge("membership_degraded");
    membershipExcluded = scope.gauge("membership_excluded");
    membershipChange = scope.counter("membership_change");
    updateAttempt = scope.counter("update_attempt");
    updateSuccess = scope.counter("update_success");
    updateFailure = scope.counter("update_failure");
    updateEmpty = scope.counter("update_empty");
    updateNoRebuild = scope.counter("update_no_rebuild");
    lbHealthyPanic = scope.counter("lb_healthy_panic");
    maxHostWeight = scope.gauge("max_host_weight");
    for (int c = 1; c <= 5; c++) {
      classCounters[c] = scope.counter("upstream_rq_" + c + "xx");
    }
  }

  /** Returns the scope {@code cluster.<name>.} these stats live in. */
  public StatsStore.Scope scope() {
    return scope;
  }

  /**
   * Counts one upstream response: {@code upstream_rq_<code>} and {@code upstream_rq_<N>xx}. A code
   * outside 100..599 is ignored. Only the first response with a given code builds its stat name.
   */
  public void recordResponse(int status) {
    if (status < 100 || status >= CODES) {
      return;
    }
    classCounters[status / 100].inc();
    Counter c = codeCounters[status];
    if (c == null) {
      c = scope.counter("upstream_rq_" + status);
      codeCounters[status] = c;
    }
    c.inc();
  }
}

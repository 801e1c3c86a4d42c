package io.legate.upstream.outlier;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;

/** Envoy's outlier detection stats, under {@code cluster.<name>.outlier_detection.}. */
public final class OutlierStats {
  public final Counter ejectionsEnforcedTotal;
  public final Gauge ejectionsActive;
  public final Counter ejectionsOverflow;
  public final Counter ejectionsEnforcedConsecutive5xx;
  public final Counter ejectionsDetectedConsecutive5xx;
  public final Counter ejectionsEnforcedSuccessRate;
  public final Counter ejectionsDetectedSuccessRate;
  public final Counter ejectionsEnforcedConsecutiveGatewayFailure;
  public final Counter ejectionsDetectedConsecutiveGatewayFailure;
  public final Counter ejectionsEnforcedConsecutiveLocalOriginFailure;
  public final Counter ejectionsDetectedConsecutiveLocalOriginFailure;
  public final Counter ejectionsEnforcedLocalOriginSuccessRate;
  public final Counter ejectionsDetectedLocalOriginSuccessRate;
  public final Counter ejectionsEnforcedFailurePercentage;
  public final Counter ejectionsDetectedFailurePercentage;
  public final Counter ejectionsEnforcedLocalOriginFailurePercentage;
  public final Counter ejectionsDetectedLocalOriginFailurePercentage;
  /** Deprecated in Envoy, still counted. */
  public final Counter ejectionsTotal;
  /** Deprecated in Envoy, still counted. */
  public final Counter ejectionsConsecutive5xx;
  /** Deprecated in Envoy, still counted. */
  public final Counter ejectionsSuccessRate;

  /** Creates the stats in the cluster's scope ({@code cluster.<name>.}). */
  public OutlierStats(StatsStore.Scope clusterScope) {
    StatsStore.Scope s = clusterScope.scope("outlier_detection.");
    ejectionsEnforcedTotal = s.counter("ejections_enforced_total");
    ejectionsActive = s.gauge("ejections_active");
    ejectionsOverflow = s.counter("ejections_overflow");
    ejectionsEnforcedConsecutive5xx = s.counter("ejections_enforced_consecutive_5xx");
    ejectionsDetectedConsecutive5xx = s.counter("ejections_detected_consecutive_5xx");
    ejectionsEnforcedSuccessRate = s.counter("ejections_enforced_success_rate");
    ejectionsDetectedSuccessRate = s.counter("ejections_detected_success_rate");
    ejectionsEnforcedConsecutiveGatewayFailure = s.counter("ejections_enforced_consecutive_gateway_failure");
    ejectionsDetectedConsecutiveGatewayFailure = s.counter("ejections_detected_consecutive_gateway_failure");
    ejectionsEnforcedConsecutiveLocalOriginFailure =
        s.counter("ejections_enforced_consecutive_local_origin_failure");
    ejectionsDetectedConsecutiveLocalOriginFailure =
        s.counter("ejections_detected_consecutive_local_origin_failure");
    ejectionsEnforcedLocalOriginSuccessRate = s.counter("ejections_enforced_local_origin_success_rate");
    ejectionsDetectedLocalOriginSuccessRate = s.counter("ejections_detected_local_origin_success_rate");
    ejectionsEnforcedFailurePercentage = s.counter("ejections_enforced_failure_percentage");
    ejectionsDetectedFailurePercentage = s.counter("ejections_detected_failure_percentage");
    ejectionsEnforcedLocalOriginFailurePercentage =
        s.counter("ejections_enforced_local_origin_failure_percentage");
    ejectionsDetectedLocalOriginFailurePercentage =
        s.counter("ejections_detected_local_origin_failure_percentage");
    ejectionsTotal = s.counter("ejections_total");
    ejectionsConsecutive5xx = s.counter("ejections_consecutive_5xx");
    ejectionsSuccessRate = s.counter("ejections_success_rate");
  }
}

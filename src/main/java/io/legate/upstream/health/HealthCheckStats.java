package io.legate.upstream.health;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;

/** Envoy's health checker stats, under {@code cluster.<name>.health_check.}. */
public final class HealthCheckStats {
  public final Counter attempt;
  public final Counter success;
  public final Counter failure;
  public final Counter passiveFailure;
  public final Counter networkFailure;
  public final Counter verifyCluster;
  public final Gauge healthy;
  public final Gauge degraded;

  /** Creates the stats in the cluster's scope ({@code cluster.<name>.}). */
  public HealthCheckStats(StatsStore.Scope clusterScope) {
    StatsStore.Scope s = clusterScope.scope("health_check.");
    attempt = s.counter("attempt");
    success = s.counter("success");
    failure = s.counter("failure");
    passiveFailure = s.counter("passive_failure");
    networkFailure = s.counter("network_failure");
    verifyCluster = s.counter("verify_cluster");
    healthy = s.gauge("healthy");
    degraded = s.gauge("degraded");
  }
}

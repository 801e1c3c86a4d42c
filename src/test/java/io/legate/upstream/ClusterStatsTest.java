package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.Histogram;
import io.legate.stats.StatsStore;
import org.junit.jupiter.api.Test;

class ClusterStatsTest {
  @Test
  void createsEnvoyNames() {
    StatsStore store = new StatsStore();
    new ClusterStats(store, "backend");
    assertThat(store.counters().stream().map(Counter::name))
        .contains(
            "cluster.backend.upstream_cx_total",
            "cluster.backend.upstream_cx_http1_total",
            "cluster.backend.upstream_cx_http2_total",
            "cluster.backend.upstream_cx_connect_fail",
            "cluster.backend.upstream_cx_connect_timeout",
            "cluster.backend.upstream_cx_destroy",
            "cluster.backend.upstream_cx_destroy_local",
            "cluster.backend.upstream_cx_destroy_remote",
            "cluster.backend.upstream_cx_rx_bytes_total",
            "cluster.backend.upstream_cx_tx_bytes_total",
            "cluster.backend.upstream_cx_none_healthy",
            "cluster.backend.upstream_cx_idle_timeout",
            "cluster.backend.upstream_cx_max_requests",
            "cluster.backend.upstream_rq_total",
            "cluster.backend.upstream_rq_pending_total",
            "cluster.backend.upstream_rq_completed",
            "cluster.backend.upstream_rq_timeout",
            "cluster.backend.upstream_rq_per_try_timeout",
            "cluster.backend.upstream_rq_rx_reset",
            "cluster.backend.upstream_rq_tx_reset",
            "cluster.backend.upstream_rq_pending_failure_eject",
            "cluster.backend.upstream_rq_cancelled",
            "cluster.backend.upstream_rq_maintenance_mode",
            "cluster.backend.upstream_rq_retry",
            "cluster.backend.membership_change",
            "cluster.backend.update_attempt",
            "cluster.backend.update_success",
            "cluster.backend.update_failure",
            "cluster.backend.update_empty",
            "cluster.backend.lb_healthy_panic",
            "cluster.backend.upstream_rq_1xx",
            "cluster.backend.upstream_rq_2xx",
            "cluster.backend.upstream_rq_3xx",
            "cluster.backend.upstream_rq_4xx",
            "cluster.backend.upstream_rq_5xx");
    assertThat(store.gauges().stream().map(Gauge::name))
        .contains(
            "cluster.backend.upstream_cx_active",
            "cluster.backend.upstream_rq_active",
            "cluster.backend.upstream_rq_pending_active",
            "cluster.backend.membership_total",
            "cluster.backend.membership_healthy",
            "cluster.backend.max_host_weight");
    assertThat(store.histograms().stream().map(Histogram::name))
        .containsExactly(
            "cluster.backend.upstream_cx_connect_ms",
            "cluster.backend.upstream_cx_length_ms",
            "cluster.backend.upstream_rq_time");
  }

  @Test
  void fieldsAreTheNamedStats() {
    StatsStore store = new StatsStore();
    ClusterStats s = new ClusterStats(store, "b");
    assertThat(s.upstreamCxTotal).isSameAs(store.counter("cluster.b.upstream_cx_total"));
    assertThat(s.upstreamRqPendingActive).isSameAs(store.gauge("cluster.b.upstream_rq_pending_active"));
    assertThat(s.upstreamRqTime).isSameAs(store.histogram("cluster.b.upstream_rq_time"));
    assertThat(s.lbHealthyPanic).isSameAs(store.counter("cluster.b.lb_healthy_panic"));
    assertThat(s.scope().prefix()).isEqualTo("cluster.b.");
  }

  @Test
  void recordResponseCountsCodeAndClass() {
    StatsStore store = new StatsStore();
    ClusterStats s = new ClusterStats(store, "b");
    assertThat(store.counters().stream().map(Counter::name))
        .doesNotContain("cluster.b.upstream_rq_200", "cluster.b.upstream_rq_503");
    s.recordResponse(200);
    s.recordResponse(200);
    s.recordResponse(204);
    s.recordResponse(503);
    s.recordResponse(99);
    s.recordResponse(600);
    assertThat(store.counter("cluster.b.upstream_rq_200").value()).isEqualTo(2);
    assertThat(store.counter("cluster.b.upstream_rq_204").value()).isEqualTo(1);
    assertThat(store.counter("cluster.b.upstream_rq_2xx").value()).isEqualTo(3);
    assertThat(store.counter("cluster.b.upstream_rq_503").value()).isEqualTo(1);
    assertThat(store.counter("cluster.b.upstream_rq_5xx").value()).isEqualTo(1);
    assertThat(store.counter("cluster.b.upstream_rq_4xx").value()).isZero();
    assertThat(store.counters().stream().map(Counter::name))
        .doesNotContain("cluster.b.upstream_rq_99", "cluster.b.upstream_rq_600");
  }
}

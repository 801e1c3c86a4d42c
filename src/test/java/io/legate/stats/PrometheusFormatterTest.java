package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PrometheusFormatterTest {
  private final PrometheusFormatter formatter = new PrometheusFormatter(TagExtractor.defaults());

  @Test
  void countersGaugesAndHistogramsGroupedByTagExtractedName() {
    StatsStore store = new StatsStore();
    store.counter("cluster.backend.upstream_rq_2xx").add(7);
    store.counter("cluster.api.upstream_rq_2xx").add(3);
    store.counter("cluster.backend.upstream_rq_5xx").inc();
    store.counter("http.ingress_http.downstream_rq_total").add(11);
    store.gauge("listener.0.0.0.0_10000.downstream_cx_active").set(2);
    store.gauge("server.live").set(1);
    Histogram h = store.histogram("cluster.backend.upstream_rq_time");
    for (int i = 1; i <= 10; i++) {
      h.record(i);
    }

    assertThat(formatter.format(store, false, null)).isEqualTo("""
        # TYPE envoy_cluster_upstream_rq_xx counter
        envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="api"} 3
        envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="backend"} 7
        envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="backend"} 1
        # TYPE envoy_http_downstream_rq_total counter
        envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 11
        # TYPE envoy_listener_downstream_cx_active gauge
        envoy_listener_downstream_cx_active{envoy_listener_address="0.0.0.0_10000"} 2
        # TYPE envoy_server_live gauge
        envoy_server_live{} 1
        # TYPE envoy_cluster_upstream_rq_time histogram
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="0.5"} 0
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="1"} 1
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="5"} 5
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="10"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="25"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="50"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="100"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="250"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="500"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="1000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="2500"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="5000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="10000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="30000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="60000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="300000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="600000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="1800000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="3600000"} 10
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="+Inf"} 10
        envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="backend"} 55
        envoy_cluster_upstream_rq_time_count{envoy_cluster_name="backend"} 10
        """);
  }

  @Test
  void usedOnlyAndFilter() {
    StatsStore store = new StatsStore();
    store.counter("cluster.a.upstream_cx_total").inc();
    store.counter("cluster.b.upstream_cx_total");
    store.counter("server.dropped");
    store.histogram("cluster.a.upstream_rq_time");

    assertThat(formatter.format(store, true, null)).isEqualTo("""
        # TYPE envoy_cluster_upstream_cx_total counter
        envoy_cluster_upstream_cx_total{envoy_cluster_name="a"} 1
        """);
    assertThat(formatter.format(store, false, Pattern.compile("dropped"))).isEqualTo("""
        # TYPE envoy_server_dropped counter
        envoy_server_dropped{} 0
        """);
  }

  @Test
  void namesAndLabelValuesAreSanitized() {
    assertThat(PrometheusFormatter.metricName("vulture.eats-liver")).isEqualTo("envoy_vulture_eats_liver");
    assertThat(PrometheusFormatter.formattedTags(List.of(
        new TagExtractor.Tag("a.tag-name", "a.tag-value"),
        new TagExtractor.Tag("replace_problematic", "val\"ue with\\ some\n issues"))))
        .isEqualTo("a_tag_name=\"a.tag-value\","
            + "replace_problematic=\"val\\\"ue with\\\\ some\\n issues\"");
  }
}

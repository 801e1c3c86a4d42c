package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The interval half of {@code /stats} histograms: the values of the last completed {@code
 * stats_flush_interval}, as Envoy's; flushed even without a stats sink.
 */
class IntervalHistogramIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      stats_flush_interval: 1s
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: front
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """;

  /** The last bucket (3600000 ms, holding every value) of the histogram: {interval, cumulative}. */
  static long[] lastBucket(Legate l, String name) {
    JsonObject root = JsonParser.parseString(
        l.admin("/stats?format=json&histogram_buckets=cumulative&filter=" + name + "$").body())
        .getAsJsonObject();
    for (var stat : root.getAsJsonArray("stats")) {
      var o = stat.getAsJsonObject();
      if (o.has("histograms")) {
        var buckets = o.getAsJsonArray("histograms").get(0).getAsJsonObject().getAsJsonArray("buckets");
        var last = buckets.get(buckets.size() - 1).getAsJsonObject();
        return new long[] {last.get("interval").getAsLong(), last.get("cumulative").getAsLong()};
      }
    }
    return new long[] {-1, -1};
  }

  static long[] await(Legate l, String name, Predicate<long[]> done) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    long[] v = lastBucket(l, name);
    while (!done.test(v) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      v = lastBucket(l, name);
    }
    return v;
  }

  static String awaitText(Legate l, String name, Predicate<String> done) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    String t = l.admin("/stats?filter=" + name + "$").body();
    while (!done.test(t) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      t = l.admin("/stats?filter=" + name + "$").body();
    }
    return t;
  }

  @Test
  void intervalShowsTheLastFlushIntervalThenEmpties() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port()))) {
      String name = "cluster.up.upstream_rq_time";
      assertThat(l.get("front", "/a").statusCode()).isEqualTo(200);
      // One value: it shows in exactly one interval (every quantile of the interval then equals the
      // cumulative one), then the intervals are empty again. Each check waits for one observation.
      String text = awaitText(l, name, t -> !t.contains("(nan,"));
      assertThat(text).matches(name + ": P0\\((\\d+),\\1\\) P25\\(\\1,\\1\\) P50\\(\\1,\\1\\) P75\\(\\1,\\1\\)"
          + " P90\\(\\1,\\1\\) P95\\(\\1,\\1\\) P99\\(\\1,\\1\\) P99.5\\(\\1,\\1\\) P99.9\\(\\1,\\1\\) P100\\(\\1,\\1\\)\n");
      assertThat(await(l, name, v -> v[0] == 0)).containsExactly(0, 1);
      assertThat(awaitText(l, name, t -> t.contains("P0(nan,")))
          .matches(name + ": P0\\(nan,\\d+\\) .* P100\\(nan,\\d+\\)\n");
      // A second value: the interval counts it alone, the cumulative both.
      assertThat(l.get("front", "/b").statusCode()).isEqualTo(200);
      assertThat(await(l, name, v -> v[0] != 0)).containsExactly(1, 2);
      assertThat(await(l, name, v -> v[0] == 0)).containsExactly(0, 2);
    }
  }
}

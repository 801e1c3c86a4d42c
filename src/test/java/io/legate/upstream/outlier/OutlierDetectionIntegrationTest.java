package io.legate.upstream.outlier;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.upstream.health.ControlledUpstream;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** Outlier detection through a whole server: results recorded by the router on the workers. */
class OutlierDetectionIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: backend, timeout: 2s }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: backend
          type: STATIC
          connect_timeout: 0.5s
          outlier_detection:
            ${OUTLIER}
          load_assignment:
            cluster_name: backend
            endpoints:
            - lb_endpoints: [${ENDPOINTS}]
      """;

  static Legate start(String outlier, List<ControlledUpstream> hosts) {
    StringBuilder eps = new StringBuilder();
    for (ControlledUpstream u : hosts) {
      if (eps.length() > 0) {
        eps.append(", ");
      }
      eps.append("{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ")
          .append(u.port())
          .append(" } } } }");
    }
    return Legate.start(CONFIG, Map.of("OUTLIER", outlier, "ENDPOINTS", eps));
  }

  @Test
  void consecutive5xxEjectsTheHostUntilBaseEjectionTimeHasPassed() throws Exception {
    try (ControlledUpstream a = new ControlledUpstream("a");
        ControlledUpstream b = new ControlledUpstream("b");
        Legate legate =
            start(
                "{ consecutive_5xx: 3, interval: 0.1s, base_ejection_time: 1s, max_ejection_percent: 50 }",
                List.of(a, b))) {
      b.trafficStatus = 503;
      // Until b is ejected, some requests get its 503s.
      for (int i = 0; i < 30 && legate.stat("cluster.backend.outlier_detection.ejections_active") == 0; i++) {
        legate.get("front", "/x");
      }
      awaitTrue(() -> legate.stat("cluster.backend.outlier_detection.ejections_active") == 1);
      long ejectedAt = System.nanoTime();
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_enforced_total")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_detected_consecutive_5xx")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_overflow")).isEqualTo(0);
      assertThat(legate.stat("cluster.backend.membership_healthy")).isEqualTo(1);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::/failed_outlier_check\n")
          .contains("backend::127.0.0.1:" + a.port() + "::health_flags::healthy\n")
          // two hosts are fewer than success_rate_minimum_hosts (5): no success rate this interval
          .contains("backend::outlier::success_rate_average::-1\n")
          .contains("backend::outlier::local_origin_success_rate_ejection_threshold::-1\n")
          .contains("backend::127.0.0.1:" + a.port() + "::success_rate::-1\n");

      int bTraffic = b.traffic.get();
      assertThat(served(legate, 10)).isEqualTo(Map.of("a", 10));
      assertThat(b.traffic.get()).isEqualTo(bTraffic);

      b.trafficStatus = 200;
      awaitTrue(() -> legate.stat("cluster.backend.outlier_detection.ejections_active") == 0);
      long ms = (System.nanoTime() - ejectedAt) / 1_000_000;
      assertThat(ms).isBetween(700L, 3000L);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::healthy\n");
      assertThat(served(legate, 10).keySet()).containsExactlyInAnyOrder("a", "b");
    }
  }

  @Test
  void maxEjectionPercentCapsTheEjectedHosts() throws Exception {
    try (ControlledUpstream a = new ControlledUpstream("a");
        ControlledUpstream b = new ControlledUpstream("b");
        ControlledUpstream c = new ControlledUpstream("c");
        ControlledUpstream d = new ControlledUpstream("d");
        Legate legate =
            start(
                "{ consecutive_5xx: 2, interval: 0.1s, base_ejection_time: 30s, max_ejection_percent: 50 }",
                List.of(a, b, c, d))) {
      for (ControlledUpstream u : List.of(a, b, c, d)) {
        u.trafficStatus = 500;
      }
      for (int i = 0; i < 60 && legate.stat("cluster.backend.outlier_detection.ejections_overflow") == 0; i++) {
        legate.get("front", "/x");
      }
      awaitTrue(() -> legate.stat("cluster.backend.outlier_detection.ejections_overflow") >= 1);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_active")).isEqualTo(2);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_enforced_total")).isEqualTo(2);
      assertThat(legate.stat("cluster.backend.outlier_detection.ejections_detected_consecutive_5xx"))
          .isEqualTo(2 + legate.stat("cluster.backend.outlier_detection.ejections_overflow"));
      assertThat(legate.stat("cluster.backend.membership_healthy")).isEqualTo(2);
      String clusters = legate.admin("/clusters").body();
      assertThat(clusters.split("::health_flags::/failed_outlier_check\n", -1)).hasSize(3);
      assertThat(clusters.split("::health_flags::healthy\n", -1)).hasSize(3);
    }
  }

  @Test
  void connectFailuresCountAsLocalOriginFailuresWhenSplit() throws Exception {
    try (ControlledUpstream a = new ControlledUpstream("a");
        ControlledUpstream b = new ControlledUpstream("b")) {
      int bPort = b.port();
      try (Legate legate =
          start(
              "{ split_external_local_origin_errors: true, consecutive_local_origin_failure: 2,"
                  + " interval: 0.1s, base_ejection_time: 30s, max_ejection_percent: 50 }",
              List.of(a, b))) {
        b.close(); // connection refused from now on
        for (int i = 0; i < 20 && legate.stat("cluster.backend.outlier_detection.ejections_active") == 0; i++) {
          legate.get("front", "/x");
        }
        awaitTrue(() -> legate.stat("cluster.backend.outlier_detection.ejections_active") == 1);
        assertThat(legate.stat("cluster.backend.outlier_detection.ejections_enforced_consecutive_local_origin_failure"))
            .isEqualTo(1);
        assertThat(legate.stat("cluster.backend.outlier_detection.ejections_detected_consecutive_5xx")).isEqualTo(0);
        assertThat(legate.admin("/clusters").body())
            .contains("backend::127.0.0.1:" + bPort + "::health_flags::/failed_outlier_check\n");
        assertThat(served(legate, 6)).isEqualTo(Map.of("a", 6));
      }
    }
  }

  static Map<String, Integer> served(Legate legate, int n) {
    Map<String, Integer> out = new HashMap<>();
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = legate.get("front", "/work/" + i);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      out.merge(r.body(), 1, Integer::sum);
    }
    return out;
  }

  static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + 8_000_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 8 s");
      }
      Thread.sleep(10);
    }
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Locality weights from load_assignment split traffic between real upstreams. */
class LocalityWeightIntegrationTest {
  static final String CONFIG =
      """
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
                    - match: { prefix: / }
                      route: { cluster: split }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: split
          type: STATIC
          connect_timeout: 1s
          common_lb_config: { locality_weighted_lb_config: {} }
          load_assignment:
            cluster_name: split
            endpoints:
            - locality: { zone: z1 }
              load_balancing_weight: 1
              lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${A} } } }
            - locality: { zone: z2 }
              load_balancing_weight: 3
              lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${B} } } }
      """;

  @Test
  void trafficFollowsTheLocalityWeights() throws Exception {
    try (TestUpstream a = new TestUpstream("a");
        TestUpstream b = new TestUpstream("b");
        Legate legate = Legate.start(CONFIG, Map.of("A", a.port(), "B", b.port()))) {
      Map<String, Integer> counts = new HashMap<>();
      for (int i = 0; i < 80; i++) {
        var r = legate.get("front", "/echo");
        assertThat(r.statusCode()).isEqualTo(200);
        counts.merge(r.headers().firstValue("x-upstream").orElseThrow(), 1, Integer::sum);
      }
      assertThat(counts.get("a")).isBetween(15, 25);
      assertThat(counts.get("b")).isBetween(55, 65);
    }
  }
}

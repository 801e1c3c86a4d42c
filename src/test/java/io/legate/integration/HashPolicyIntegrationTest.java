package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Route hash_policy drives ring hash and Maglev: the same key always reaches the same host. */
class HashPolicyIntegrationTest {
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
                    - match: { prefix: "/ring" }
                      route:
                        cluster: ring
                        hash_policy: [{ header: { header_name: x-user } }]
                    - match: { prefix: "/maglev" }
                      route:
                        cluster: maglev
                        hash_policy: [{ query_parameter: { name: user } }]
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: ring
          type: STATIC
          lb_policy: RING_HASH
          connect_timeout: 1s
          load_assignment:
            cluster_name: ring
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${A} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${B} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${C} } } }
        - name: maglev
          type: STATIC
          lb_policy: MAGLEV
          connect_timeout: 1s
          load_assignment:
            cluster_name: maglev
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${A} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${B} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${C} } } }
      """;

  @Test
  void sameKeySameHost() {
    try (TestUpstream a = new TestUpstream("a");
        TestUpstream b = new TestUpstream("b");
        TestUpstream c = new TestUpstream("c");
        Legate l = Legate.start(CONFIG, Map.of("A", a.port(), "B", b.port(), "C", c.port()))) {
      Map<String, String> ringOwner = new HashMap<>();
      Map<String, String> maglevOwner = new HashMap<>();
      Set<String> ringHosts = new HashSet<>();
      Set<String> maglevHosts = new HashSet<>();
      for (int round = 0; round < 3; round++) {
        for (int u = 0; u < 30; u++) {
          String user = "user-" + u;
          String r = l.get("front", "/ring/x", "x-user", user).headers().firstValue("x-upstream").orElseThrow();
          String m = l.get("front", "/maglev/x?user=" + user).headers().firstValue("x-upstream").orElseThrow();
          assertThat(ringOwner.putIfAbsent(user, r)).as("ring host of " + user).isIn(null, r);
          assertThat(maglevOwner.putIfAbsent(user, m)).as("maglev host of " + user).isIn(null, m);
          ringHosts.add(r);
          maglevHosts.add(m);
        }
      }
      // 30 keys over 3 hosts: every host gets some.
      assertThat(ringHosts).containsExactlyInAnyOrder("a", "b", "c");
      assertThat(maglevHosts).containsExactlyInAnyOrder("a", "b", "c");
    }
  }
}

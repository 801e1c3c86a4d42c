package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@code envoy.filters.http.set_filter_state} fills the stream's filter state from the request, and
 * a route's {@code hash_policy.filter_state} hashes it for ring hash when it is hashable ({@code
 * envoy.hashable_string}), as Envoy.
 */
class SetFilterStateIntegrationTest {
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
                    - match: { prefix: "/fs" }
                      route:
                        cluster: ring
                        hash_policy: [{ filter_state: { key: legate.user } }]
                    - match: { prefix: "/hdr" }
                      route:
                        cluster: ring
                        hash_policy: [{ header: { header_name: x-user } }]
                    - match: { prefix: "/plain" }
                      route:
                        cluster: ring
                        hash_policy: [{ filter_state: { key: legate.plain } }]
                    - match: { prefix: "/unset" }
                      route:
                        cluster: ring
                        hash_policy: [{ filter_state: { key: nobody.sets.this } }]
                http_filters:
                - name: envoy.filters.http.set_filter_state
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config
                    on_request_headers:
                    - object_key: legate.user
                      factory_key: envoy.hashable_string
                      format_string:
                        text_format_source: { inline_string: "%REQ(x-user)%" }
                    - object_key: legate.plain
                      factory_key: envoy.string
                      format_string:
                        text_format: "%REQ(x-user)%"
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
      """;

  @Test
  void theSameUserReachesTheSameHostThroughTheFilterState() {
    try (TestUpstream a = new TestUpstream("a");
        TestUpstream b = new TestUpstream("b");
        TestUpstream c = new TestUpstream("c");
        Legate l = Legate.start(CONFIG, Map.of("A", a.port(), "B", b.port(), "C", c.port()))) {
      Map<String, String> owner = new HashMap<>();
      Set<String> hosts = new HashSet<>();
      for (int round = 0; round < 4; round++) {
        for (int u = 0; u < 12; u++) {
          String user = "user-" + u;
          HttpResponse<String> r = l.get("front", "/fs/" + round, "x-user", user);
          assertThat(r.statusCode()).isEqualTo(200);
          String host = r.headers().firstValue("x-upstream").orElseThrow();
          assertThat(owner.putIfAbsent(user, host)).isIn(null, host);
          hosts.add(host);
          // The filter state holds the header's value, so it hashes as the header policy does.
          assertThat(l.get("front", "/hdr/" + round, "x-user", user).headers().firstValue("x-upstream"))
              .hasValue(host);
        }
      }
      assertThat(hosts).hasSizeGreaterThan(1);
      // A key nobody set, or an object that is not hashable (envoy.string), gives no hash: requests
      // are spread at random.
      for (String route : new String[] {"/unset/", "/plain/"}) {
        Set<String> spread = new HashSet<>();
        for (int i = 0; i < 40; i++) {
          spread.add(l.get("front", route + i, "x-user", "user-0").headers().firstValue("x-upstream").orElseThrow());
        }
        assertThat(spread).hasSizeGreaterThan(1);
      }
    }
  }

  @Test
  void anObjectKeyWithoutAFactoryIsRefused() {
    String yaml = CONFIG.replace("factory_key: envoy.hashable_string", "read_only: true")
        .replace("${A}", "1").replace("${B}", "2").replace("${C}", "3");
    assertThatThrownBy(() -> Server.validate(new Options(null, yaml, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("http_filters[0].typed_config.on_request_headers[0].object_key:"
            + " 'legate.user' does not have an object factory; known: envoy.string, envoy.hashable_string");
    String shared = CONFIG.replace("factory_key: envoy.hashable_string",
            "factory_key: envoy.hashable_string\n                shared_with_upstream: ONCE")
        .replace("${A}", "1").replace("${B}", "2").replace("${C}", "3");
    assertThatThrownBy(() -> Server.validate(new Options(null, shared, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("http_filters[0].typed_config.on_request_headers[0].shared_with_upstream:"
            + " only NONE is supported");
  }
}

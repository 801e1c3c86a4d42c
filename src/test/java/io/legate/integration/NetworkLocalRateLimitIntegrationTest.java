package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.network.local_ratelimit before an HTTP connection manager and before a TCP proxy. */
class NetworkLocalRateLimitIntegrationTest {
  static final String LRL = "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit";
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: http
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.local_ratelimit
              typed_config:
                "@type": %1$s
                stat_prefix: conn_lrl
                token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: ${FILL} }
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: lrl
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        - name: tcp
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.local_ratelimit
              typed_config:
                "@type": %1$s
                stat_prefix: tcp_lrl
                token_bucket: { max_tokens: 1, fill_interval: 3600s }
                runtime_enabled: { default_value: true, runtime_key: lrl_enabled }
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp
                cluster: up
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """.formatted(LRL);
  static final String GET = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() {
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port(), "FILL", "3600s"));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up != null) {
      up.close();
    }
  }

  /** Returns the answer to a GET on a new connection, or "" when the connection is closed (or reset) first. */
  static String send(String listener) {
    try {
      return legate.raw(listener, GET, 5000);
    } catch (RuntimeException e) {
      if (e.getCause() instanceof java.net.SocketException) {
        return "";
      }
      throw e;
    }
  }

  @Test
  void connectionsBeyondTheBucketAreClosed() {
    assertThat(send("http")).startsWith("HTTP/1.1 200");
    assertThat(send("http")).startsWith("HTTP/1.1 200");
    assertThat(send("http")).isEmpty();
    assertThat(send("http")).isEmpty();
    assertThat(legate.stat("local_rate_limit.conn_lrl.rate_limited")).isEqualTo(2);
    assertThat(legate.stat("http.lrl.downstream_rq_total")).isEqualTo(2);
  }

  @Test
  void theTcpProxyIsLimitedToo() {
    assertThat(send("tcp")).startsWith("HTTP/1.1 200");
    assertThat(send("tcp")).isEmpty();
    assertThat(legate.stat("local_rate_limit.tcp_lrl.rate_limited")).isEqualTo(1);
  }

  @Test
  void aFillIntervalUnder50msIsRefused() {
    assertThatThrownBy(() -> Legate.start(CONFIG, Map.of("UP", 1, "FILL", "0.01s")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].filters[0].typed_config.token_bucket"
            + ".fill_interval: local rate limit token bucket fill timer must be >= 50ms");
  }
}

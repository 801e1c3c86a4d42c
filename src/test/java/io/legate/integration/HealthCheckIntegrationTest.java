package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.health_check in a whole server, failed and restored through the admin. */
class HealthCheckIntegrationTest {
  static final String HCM_HEAD =
      """
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: %s
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: envoy.filters.http.health_check
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                    pass_through_mode: %s
                    headers: [{ name: ":path", string_match: { exact: /healthz } }]
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      """;
  static final String CONFIG =
      """
      node: { id: n1, cluster: front-proxy }
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: local
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
      %s
        - name: pass
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
      %s
        clusters:
        - name: up1
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up1
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
      """.formatted(HCM_HEAD.formatted("local", "false"), HCM_HEAD.formatted("pass", "true"));

  static TestUpstream up1;
  static Legate legate;

  @BeforeAll
  static void start() {
    up1 = new TestUpstream("up1");
    legate = Legate.start(CONFIG, Map.of("UP1", up1.port()));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up1 != null) {
      up1.close();
    }
  }

  @Test
  void passesThenFailsThroughTheAdminThenPassesAgain() {
    HttpResponse<String> hc = legate.get("local", "/healthz");
    assertThat(hc.statusCode()).isEqualTo(200);
    assertThat(hc.body()).isEmpty();
    assertThat(hc.headers().firstValue("x-envoy-upstream-healthchecked-cluster")).contains("front-proxy");
    assertThat(hc.headers().firstValue("x-upstream")).isEmpty();
    HttpResponse<String> app = legate.get("local", "/echo");
    assertThat(app.statusCode()).isEqualTo(200);
    assertThat(app.headers().firstValue("x-envoy-immediate-health-check-fail")).isEmpty();
    HttpResponse<String> forwarded = legate.get("pass", "/healthz");
    assertThat(forwarded.statusCode()).isEqualTo(200);
    assertThat(forwarded.body()).startsWith("GET /healthz");
    assertThat(forwarded.headers().firstValue("x-envoy-upstream-healthchecked-cluster")).contains("front-proxy");

    assertThat(legate.adminPost("/healthcheck/fail").statusCode()).isEqualTo(200);
    assertThat(legate.get("local", "/healthz").statusCode()).isEqualTo(503);
    HttpResponse<String> passFailed = legate.get("pass", "/healthz");
    assertThat(passFailed.statusCode()).isEqualTo(503);
    assertThat(passFailed.headers().firstValue("x-upstream")).isEmpty();
    HttpResponse<String> appFailed = legate.get("local", "/echo");
    assertThat(appFailed.statusCode()).isEqualTo(200);
    assertThat(appFailed.headers().firstValue("x-envoy-immediate-health-check-fail")).contains("true");

    assertThat(legate.adminPost("/healthcheck/ok").statusCode()).isEqualTo(200);
    assertThat(legate.get("local", "/healthz").statusCode()).isEqualTo(200);
    assertThat(legate.get("local", "/echo").headers().firstValue("x-envoy-immediate-health-check-fail")).isEmpty();
  }
}

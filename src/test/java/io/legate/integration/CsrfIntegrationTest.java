package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.csrf in a whole server: filter policy, per-route and per-virtual-host policies. */
class CsrfIntegrationTest {
  static final String POLICY = "type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy";
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
                stat_prefix: web
                route_config:
                  virtual_hosts:
                  - name: disabled
                    domains: ["off.test"]
                    typed_per_filter_config:
                      envoy.filters.http.csrf:
                        "@type": %1$s
                        filter_enabled: { default_value: { numerator: 0 } }
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /shadow }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.csrf:
                          "@type": %1$s
                          filter_enabled: { default_value: { numerator: 0 } }
                          shadow_enabled: { default_value: { numerator: 100 } }
                    - match: { prefix: /additional }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.csrf:
                          "@type": %1$s
                          filter_enabled: { default_value: { numerator: 100 } }
                          additional_origins: [ { suffix: ".trusted.example" } ]
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.csrf
                  typed_config:
                    "@type": %1$s
                    filter_enabled: { default_value: { numerator: 100 } }
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """.formatted(POLICY);

  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() {
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port()));
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

  static HttpResponse<String> request(String method, String path, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(legate.uri("front", path)).timeout(Duration.ofSeconds(20))
        .method(method, HttpRequest.BodyPublishers.ofString("x"));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return legate.send(b.build());
  }

  String self() {
    return "http://127.0.0.1:" + legate.port("front");
  }

  long stat(String name) {
    return Math.max(0, legate.stat("http.web.csrf." + name));
  }

  @Test
  void sameOriginMutationsPass() {
    long valid = stat("request_valid");
    assertThat(request("POST", "/a", "origin", self()).statusCode()).isEqualTo(200);
    assertThat(request("DELETE", "/a", "origin", self() + "/").statusCode()).isEqualTo(200);
    assertThat(request("PATCH", "/a", "referer", self() + "/form?x=1").statusCode()).isEqualTo(200);
    assertThat(stat("request_valid") - valid).isEqualTo(3);
  }

  @Test
  void crossOriginMutationsAreForbidden() {
    long invalid = stat("request_invalid");
    int before = up.requests().size();
    HttpResponse<String> r = request("PUT", "/a", "origin", "https://evil.example");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("Invalid origin");
    // A port that differs is another origin; Origin wins over Referer.
    assertThat(request("POST", "/a", "origin", "http://127.0.0.1:1", "referer", self() + "/").statusCode()).isEqualTo(403);
    assertThat(up.requests().size()).isEqualTo(before);
    assertThat(stat("request_invalid") - invalid).isEqualTo(2);
  }

  @Test
  void aMutationWithoutSourceOriginIsForbiddenAndCountedTwice() {
    long missing = stat("missing_source_origin");
    long invalid = stat("request_invalid");
    assertThat(request("POST", "/a").statusCode()).isEqualTo(403);
    assertThat(stat("missing_source_origin") - missing).isEqualTo(1);
    assertThat(stat("request_invalid") - invalid).isEqualTo(1);
  }

  @Test
  void safeMethodsAreNotChecked() {
    long invalid = stat("request_invalid");
    assertThat(request("GET", "/a", "origin", "https://evil.example").statusCode()).isEqualTo(200);
    assertThat(request("OPTIONS", "/a", "origin", "https://evil.example").statusCode()).isEqualTo(200);
    assertThat(stat("request_invalid")).isEqualTo(invalid);
  }

  @Test
  void shadowModeCountsButLetsThrough() {
    long invalid = stat("request_invalid");
    assertThat(request("POST", "/shadow", "origin", "https://evil.example").statusCode()).isEqualTo(200);
    assertThat(stat("request_invalid") - invalid).isEqualTo(1);
  }

  @Test
  void additionalOriginsMatchHostAndPort() {
    assertThat(request("POST", "/additional", "origin", "https://app.trusted.example").statusCode()).isEqualTo(200);
    assertThat(request("POST", "/additional", "origin", "https://trusted.example.evil").statusCode()).isEqualTo(403);
    // The route's policy replaces the filter's: same origin still passes.
    assertThat(request("POST", "/additional", "origin", self()).statusCode()).isEqualTo(200);
  }

  @Test
  void aVirtualHostPolicyCanTurnItOff() {
    String r = legate.raw("front", "POST /a HTTP/1.1\r\nHost: off.test\r\nOrigin: https://evil.example\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n", 5000);
    assertThat(r).startsWith("HTTP/1.1 200 OK\r\n");
    String on = legate.raw("front", "POST /a HTTP/1.1\r\nHost: on.test\r\nOrigin: https://evil.example\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n", 5000);
    assertThat(on).startsWith("HTTP/1.1 403 Forbidden\r\n");
    String sameHost = legate.raw("front", "POST /a HTTP/1.1\r\nHost: on.test\r\nOrigin: https://on.test\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n", 5000);
    assertThat(sameHost).startsWith("HTTP/1.1 200 OK\r\n");
  }
}

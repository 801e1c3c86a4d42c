package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.cors in a whole server: preflights answered locally, actual requests decorated. */
class CorsIntegrationTest {
  static final String POLICY = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";
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
                  - name: legacy
                    domains: ["legacy.test"]
                    cors:
                      allow_origin_string_match: [ { exact: "https://old.example" } ]
                      allow_methods: "PUT"
                      max_age: "60"
                    routes:
                    - match: { prefix: /route-level }
                      route:
                        cluster: up
                        cors:
                          allow_origin_string_match: [ { exact: "https://route.example" } ]
                          allow_methods: "DELETE"
                    - match: { prefix: / }
                      route: { cluster: up }
                  - name: main
                    domains: ["*"]
                    typed_per_filter_config:
                      envoy.filters.http.cors:
                        "@type": %1$s
                        allow_origin_string_match: [ { exact: "https://a.example" }, { suffix: ".b.example" } ]
                        allow_methods: "GET, POST"
                        allow_headers: "x-custom"
                        expose_headers: "x-exposed"
                        max_age: "600"
                        allow_credentials: true
                    routes:
                    - match: { prefix: /shadow }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.cors:
                          "@type": %1$s
                          allow_origin_string_match: [ { exact: "https://a.example" } ]
                          filter_enabled: { default_value: { numerator: 0 } }
                          shadow_enabled: { default_value: { numerator: 100 } }
                    - match: { prefix: /wild }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.cors:
                          "@type": %1$s
                          allow_origin_string_match: [ { exact: "*" } ]
                          allow_methods: "*"
                          allow_headers: "*"
                          forward_not_matching_preflights: false
                    - match: { prefix: /strict }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.cors:
                          "@type": %1$s
                          allow_origin_string_match: [ { exact: "https://a.example" } ]
                          forward_not_matching_preflights: false
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.cors
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
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

  static String preflight(String path, String origin, String extra) {
    return preflight("x", path, origin, extra);
  }

  static String preflight(String host, String path, String origin, String extra) {
    return legate.raw("front", "OPTIONS " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin
        + "\r\nAccess-Control-Request-Method: POST\r\n" + extra + "Connection: close\r\n\r\n", 5000);
  }

  /** Returns the response's header lines without date and server, in order, lower-cased names. */
  static String headers(String response) {
    StringBuilder sb = new StringBuilder();
    String[] lines = response.split("\r\n");
    for (int i = 1; i < lines.length && !lines[i].isEmpty(); i++) {
      String l = lines[i];
      String name = l.substring(0, l.indexOf(':')).toLowerCase();
      if (!name.equals("date") && !name.equals("server") && !name.equals("x-upstream") && !name.equals("content-type")) {
        sb.append(name).append(l.substring(l.indexOf(':'))).append('\n');
      }
    }
    return sb.toString();
  }

  @Test
  void preflightFromAnAllowedOriginIsAnsweredLocally() {
    int before = up.requests().size();
    long valid = legate.stat("http.web.cors.origin_valid");
    String r = preflight("/api", "https://a.example", "Access-Control-Request-Headers: x-custom\r\n");
    assertThat(r).startsWith("HTTP/1.1 200 OK\r\n");
    assertThat(headers(r)).contains(
        "access-control-allow-origin: https://a.example\n"
            + "access-control-allow-credentials: true\n"
            + "access-control-allow-methods: GET, POST\n"
            + "access-control-allow-headers: x-custom\n"
            + "access-control-max-age: 600\n");
    assertThat(up.requests().size()).isEqualTo(before);
    assertThat(legate.stat("http.web.cors.origin_valid") - valid).isEqualTo(1);
    // A suffix matcher allows subdomains.
    assertThat(headers(preflight("/api", "https://x.b.example", ""))).contains("access-control-allow-origin: https://x.b.example\n");
  }

  @Test
  void actualRequestsGetAllowOriginCredentialsAndExposeHeaders() throws Exception {
    HttpResponse<String> r = legate.get("front", "/api", "origin", "https://a.example");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().allValues("access-control-allow-origin")).containsExactly("https://a.example");
    assertThat(r.headers().allValues("access-control-allow-credentials")).containsExactly("true");
    assertThat(r.headers().allValues("access-control-expose-headers")).containsExactly("x-exposed");
    assertThat(r.headers().firstValue("access-control-allow-methods")).isEmpty();
    assertThat(r.headers().firstValue("access-control-max-age")).isEmpty();
  }

  @Test
  void aDisallowedOriginIsCountedAndGetsNoCorsHeaders() {
    long invalid = legate.stat("http.web.cors.origin_invalid");
    HttpResponse<String> r = legate.get("front", "/api", "origin", "https://evil.example");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("access-control-allow-origin")).isEmpty();
    assertThat(r.headers().firstValue("access-control-allow-credentials")).isEmpty();
    // A preflight from it goes upstream (forward_not_matching_preflights defaults to true).
    String p = preflight("/api", "https://evil.example", "");
    assertThat(p).startsWith("HTTP/1.1 200 OK\r\n").contains("OPTIONS /api HTTP/1.1");
    assertThat(headers(p)).doesNotContain("access-control-allow-origin");
    assertThat(legate.stat("http.web.cors.origin_invalid") - invalid).isEqualTo(2);
  }

  @Test
  void notForwardingNonMatchingPreflightsAnswersWithoutAllowOrigin() {
    int before = up.requests().size();
    String r = preflight("/strict", "https://evil.example", "");
    assertThat(r).startsWith("HTTP/1.1 200 OK\r\n");
    assertThat(headers(r)).doesNotContain("access-control-allow-origin").doesNotContain("OPTIONS");
    assertThat(up.requests().size()).isEqualTo(before);
  }

  @Test
  void wildcardsEchoTheRequest() {
    String r = preflight("/wild", "https://any.example", "Access-Control-Request-Headers: x-a, x-b\r\n");
    assertThat(headers(r)).contains(
        "access-control-allow-origin: https://any.example\n"
            + "access-control-allow-methods: POST\n"
            + "access-control-allow-headers: x-a, x-b\n");
  }

  @Test
  void shadowModeOnlyCounts() {
    long valid = legate.stat("http.web.cors.origin_valid");
    long invalid = legate.stat("http.web.cors.origin_invalid");
    HttpResponse<String> ok = legate.get("front", "/shadow", "origin", "https://a.example");
    assertThat(ok.headers().firstValue("access-control-allow-origin")).isEmpty();
    String p = preflight("/shadow", "https://a.example", "");
    assertThat(p).contains("OPTIONS /shadow HTTP/1.1");
    legate.get("front", "/shadow", "origin", "https://evil.example");
    assertThat(legate.stat("http.web.cors.origin_valid") - valid).isEqualTo(2);
    assertThat(legate.stat("http.web.cors.origin_invalid") - invalid).isEqualTo(1);
  }

  @Test
  void theDeprecatedCorsFieldsOfVirtualHostsAndRoutesApply() {
    assertThat(headers(preflight("legacy.test", "/a", "https://old.example", ""))).contains(
        "access-control-allow-origin: https://old.example\n"
            + "access-control-allow-methods: PUT\n"
            + "access-control-max-age: 60\n");
    // The route's policy is the most specific one.
    String r = preflight("legacy.test", "/route-level", "https://route.example", "");
    assertThat(headers(r)).contains("access-control-allow-origin: https://route.example\n"
        + "access-control-allow-methods: DELETE\n");
    assertThat(headers(preflight("legacy.test", "/route-level", "https://old.example", "")))
        .doesNotContain("access-control-allow-origin");
  }

  @Test
  void requestsWithoutOriginAreNotCors() {
    long valid = legate.stat("http.web.cors.origin_valid");
    long invalid = legate.stat("http.web.cors.origin_invalid");
    HttpResponse<String> r = legate.get("front", "/api");
    assertThat(r.headers().firstValue("access-control-allow-origin")).isEmpty();
    assertThat(legate.stat("http.web.cors.origin_valid")).isEqualTo(valid);
    assertThat(legate.stat("http.web.cors.origin_invalid")).isEqualTo(invalid);
  }
}

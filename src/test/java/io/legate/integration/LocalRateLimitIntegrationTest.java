package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.local_ratelimit in a whole server with two workers sharing one bucket. */
class LocalRateLimitIntegrationTest {
  static final String LRL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
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
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /refill }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        envoy.filters.http.local_ratelimit:
                          "@type": %1$s
                          stat_prefix: refill
                          token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 0.3s }
                          filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
                          filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
                    - match: { prefix: /open }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        envoy.filters.http.local_ratelimit:
                          "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                          disabled: true
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: envoy.filters.http.local_ratelimit
                  typed_config:
                    "@type": %1$s
                    stat_prefix: http_local_rate_limiter
                    token_bucket: { max_tokens: 3, tokens_per_fill: 3, fill_interval: 3600s }
                    filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
                    filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
                    enable_x_ratelimit_headers: DRAFT_VERSION_03
                    response_headers_to_add:
                    - append_action: OVERWRITE_IF_EXISTS_OR_ADD
                      header: { key: x-local-rate-limit, value: "true" }
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up1
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up1
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
      """.formatted(LRL);

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
  void aConcurrentBurstGetsExactlyTheBucket() throws Exception {
    List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      // a client per request: separate connections, spread over both workers
      var client = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
      futures.add(client.sendAsync(
          HttpRequest.newBuilder(legate.uri("front", "/echo")).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    int ok = 0;
    int limited = 0;
    for (var f : futures) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      if (r.statusCode() == 200) {
        ok++;
      } else {
        limited++;
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.body()).isEqualTo("local_rate_limited");
        assertThat(r.headers().firstValue("x-local-rate-limit")).contains("true");
        assertThat(r.headers().firstValue("x-ratelimit-limit")).contains("3");
        assertThat(r.headers().firstValue("x-ratelimit-remaining")).contains("0");
        assertThat(r.headers().firstValue("x-envoy-ratelimited")).isEmpty();
      }
    }
    assertThat(ok).isEqualTo(3);
    assertThat(limited).isEqualTo(9);
    assertThat(legate.stat("http_local_rate_limiter.http_local_rate_limit.enabled")).isEqualTo(12);
    assertThat(legate.stat("http_local_rate_limiter.http_local_rate_limit.ok")).isEqualTo(3);
    assertThat(legate.stat("http_local_rate_limiter.http_local_rate_limit.rate_limited")).isEqualTo(9);
    assertThat(legate.stat("http_local_rate_limiter.http_local_rate_limit.enforced")).isEqualTo(9);
    // a route that disables the filter is not limited
    assertThat(legate.get("front", "/open").statusCode()).isEqualTo(200);
  }

  @Test
  void aRouteBucketRefills() throws Exception {
    long start = System.nanoTime();
    assertThat(legate.get("front", "/refill").statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/refill").statusCode()).isEqualTo(429);
    int status = 429;
    for (int i = 0; i < 100 && status == 429; i++) {
      Thread.sleep(20);
      status = legate.get("front", "/refill").statusCode();
    }
    assertThat(status).isEqualTo(200);
    // the token taken after start comes back 0.3 s later at the earliest
    assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(300);
    assertThat(legate.stat("refill.http_local_rate_limit.ok")).isEqualTo(2);
  }
}

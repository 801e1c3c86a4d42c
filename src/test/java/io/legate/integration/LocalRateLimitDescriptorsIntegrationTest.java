package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * envoy.filters.http.local_ratelimit {@code descriptors}: the route's {@code rate_limits} actions
 * produce descriptors, each matching configured descriptor has its own bucket, the most restrictive
 * applies, and requests matching none use the default bucket.
 */
class LocalRateLimitDescriptorsIntegrationTest {
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
                    - match: { prefix: /tier }
                      route:
                        cluster: up1
                        rate_limits:
                        - actions: [{ request_headers: { header_name: x-client, descriptor_key: client } }]
                    - match: { prefix: /combo }
                      route:
                        cluster: up1
                        rate_limits:
                        - actions: [{ request_headers: { header_name: x-combo, descriptor_key: combo } }]
                        - actions: [{ generic_key: { descriptor_value: api } }]
                http_filters:
                - name: envoy.filters.http.local_ratelimit
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: desc
                    token_bucket: { max_tokens: 4, tokens_per_fill: 4, fill_interval: 3600s }
                    always_consume_default_token_bucket: false
                    filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
                    filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
                    enable_x_ratelimit_headers: DRAFT_VERSION_03
                    response_headers_to_add:
                    - header: { key: x-envoy-ratelimited, value: "true" }
                    descriptors:
                    - entries: [{ key: client, value: gold }]
                      token_bucket: { max_tokens: 6, tokens_per_fill: 6, fill_interval: 3600s }
                    - entries: [{ key: client, value: bronze }]
                      token_bucket: { max_tokens: 2, tokens_per_fill: 2, fill_interval: 3600s }
                    - entries: [{ key: combo, value: c }]
                      token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: 3600s }
                    - entries: [{ key: generic_key, value: api }]
                      token_bucket: { max_tokens: 3, tokens_per_fill: 3, fill_interval: 3600s }
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
      """;

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

  private static List<HttpResponse<String>> send(int n, String path, String... headers) {
    List<HttpResponse<String>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(legate.get("front", path, headers));
    }
    return out;
  }

  private static long okCount(List<HttpResponse<String>> rs) {
    return rs.stream().filter(r -> r.statusCode() == 200).count();
  }

  @Test
  void eachHeaderValueGetsItsDescriptorsLimit() {
    long limited = legate.stat("desc.http_local_rate_limit.rate_limited");
    List<HttpResponse<String>> gold = send(8, "/tier/g", "x-client", "gold");
    List<HttpResponse<String>> bronze = send(4, "/tier/b", "x-client", "bronze");
    // No descriptor matches silver: the default bucket (4).
    List<HttpResponse<String>> silver = send(6, "/tier/s", "x-client", "silver");
    assertThat(okCount(gold)).isEqualTo(6);
    assertThat(okCount(bronze)).isEqualTo(2);
    assertThat(okCount(silver)).isEqualTo(4);
    HttpResponse<String> refused = bronze.get(3);
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.body()).isEqualTo("local_rate_limited");
    assertThat(refused.headers().firstValue("x-envoy-ratelimited")).hasValue("true");
    assertThat(refused.headers().firstValue("x-ratelimit-limit")).hasValue("2");
    assertThat(refused.headers().firstValue("x-ratelimit-remaining")).hasValue("0");
    assertThat(gold.get(0).headers().firstValue("x-ratelimit-limit")).hasValue("6");
    assertThat(gold.get(0).headers().firstValue("x-envoy-ratelimited")).isEmpty();
    assertThat(legate.stat("desc.http_local_rate_limit.rate_limited") - limited).isEqualTo(2 + 2 + 2);
  }

  @Test
  void theMostRestrictiveMatchingDescriptorApplies() {
    // combo=c (5 tokens) and generic_key=api (3 tokens) both match: the api bucket runs out first.
    List<HttpResponse<String>> combo = send(6, "/combo/x", "x-combo", "c");
    assertThat(combo).extracting(HttpResponse::statusCode).containsExactly(200, 200, 200, 429, 429, 429);
    assertThat(combo.get(3).headers().firstValue("x-ratelimit-limit")).hasValue("3");
  }
}

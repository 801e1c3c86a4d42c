package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.fault in a whole server: aborts, delays, header faults, per-route configs. */
class FaultIntegrationTest {
  static final String FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
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
                    - match: { prefix: /abort }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": %1$s, abort: { http_status: 503, percentage: { numerator: 100 } } }
                    - match: { prefix: /grpc.abort/ }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": %1$s, abort: { grpc_status: 14, percentage: { numerator: 100 } } }
                    - match: { prefix: /wait }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": %1$s, delay: { fixed_delay: 0.3s, percentage: { numerator: 100 } } }
                    - match: { prefix: /zero }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": %1$s, abort: { http_status: 503, percentage: { numerator: 0 } } }
                    - match: { prefix: /slow/ }
                      route: { cluster: up1, prefix_rewrite: /size/ }
                      typed_per_filter_config:
                        fault:
                          "@type": %1$s
                          response_rate_limit: { fixed_limit: { limit_kbps: 10 }, percentage: { numerator: 100 } }
                    - match: { prefix: /disabled }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true }
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: fault
                  typed_config:
                    "@type": %1$s
                    abort: { header_abort: {}, percentage: { numerator: 100 } }
                    delay: { header_delay: {}, percentage: { numerator: 100 } }
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        - name: optin
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: optin
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /enabled }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig }
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: fault
                  disabled: true
                  typed_config:
                    "@type": %1$s
                    abort: { header_abort: {}, percentage: { numerator: 100 } }
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
      """.formatted(FAULT);

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
  void abortAnswersTheConfiguredStatus() {
    long before = legate.stat("http.ingress.fault.aborts_injected");
    HttpResponse<String> r = legate.get("front", "/abort");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("fault filter abort");
    assertThat(r.headers().firstValue("x-upstream")).isEmpty();
    assertThat(legate.stat("http.ingress.fault.aborts_injected")).isEqualTo(Math.max(before, 0) + 1);
  }

  @Test
  void grpcAbortIsATrailersOnlyResponse() {
    try (H2Client c = new H2Client(legate.port("front"))) {
      H2Client.Response r =
          c.send("POST", "/grpc.abort/Call", "localhost", "",
              new DefaultHttp2Headers().add("content-type", "application/grpc").add("te", "trailers"));
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.headers().get("grpc-status")).hasToString("14");
      assertThat(r.headers().get("grpc-message")).hasToString("fault filter abort");
    }
  }

  @Test
  void fixedDelayHoldsTheRequest() {
    long start = System.nanoTime();
    HttpResponse<String> r = legate.get("front", "/wait/echo");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("GET /wait/echo");
    assertThat(ms).isGreaterThanOrEqualTo(300);
    assertThat(legate.stat("http.ingress.fault.delays_injected")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void headerControlledFaults() {
    HttpResponse<String> aborted = legate.get("front", "/echo", "x-envoy-fault-abort-request", "418");
    assertThat(aborted.statusCode()).isEqualTo(418);
    assertThat(aborted.body()).isEqualTo("fault filter abort");

    long start = System.nanoTime();
    HttpResponse<String> delayed = legate.get("front", "/echo", "x-envoy-fault-delay-request", "250");
    assertThat(delayed.statusCode()).isEqualTo(200);
    assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(250);

    HttpResponse<String> notPicked = legate.get("front", "/echo",
        "x-envoy-fault-abort-request", "418", "x-envoy-fault-abort-request-percentage", "0");
    assertThat(notPicked.statusCode()).isEqualTo(200);

    assertThat(legate.get("front", "/echo").statusCode()).isEqualTo(200);
  }

  @Test
  void zeroPercentNeverAborts() {
    for (int i = 0; i < 5; i++) {
      assertThat(legate.get("front", "/zero").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void aRouteCanDisableTheFilter() {
    HttpResponse<String> r = legate.get("front", "/disabled", "x-envoy-fault-abort-request", "418");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-upstream")).contains("up1");
  }

  @Test
  void aFilterDisabledByDefaultRunsOnlyWhereARouteEnablesIt() {
    assertThat(legate.get("optin", "/echo", "x-envoy-fault-abort-request", "418").statusCode()).isEqualTo(200);
    assertThat(legate.get("optin", "/enabled", "x-envoy-fault-abort-request", "418").statusCode()).isEqualTo(418);
  }

  @Test
  void responseRateLimitSlowsTheBody() {
    long start = System.nanoTime();
    HttpResponse<String> r = legate.get("front", "/slow/10240");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).hasSize(10240);
    // 10240 bytes at 10 KiB/s, less a 1/16 s burst and the first interval's tokens: clearly
    // throttled (unthrottled, it takes a few milliseconds)
    assertThat(ms).isGreaterThanOrEqualTo(700);
    assertThat(legate.stat("http.ingress.fault.response_rl_injected")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("http.ingress.fault.active_faults")).isZero();
    // the stream completed: the kept-alive connection serves the next request
    assertThat(legate.get("front", "/echo").statusCode()).isEqualTo(200);
  }
}

package io.legate.integration;

import static io.legate.integration.OpenTelemetryTracingIntegrationTest.echoed;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.legate.tracing.ZipkinReceiver;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * HCM tracing with {@code envoy.tracers.zipkin}: spans reach a real Zipkin v2 HTTP collector on a
 * Legate cluster, and the upstream sees the proxy's span in B3 headers.
 */
class ZipkinTracingIntegrationTest {
  static final long WAIT_MS = 5000;

  static final String CONFIG =
      """
      node: { id: node-7, cluster: front-cluster }
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
                stat_prefix: front
                tracing:
                  random_sampling: { value: ${RANDOM} }
                  provider:
                    name: envoy.tracers.zipkin
                    typed_config:
                      "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                      collector_cluster: zipkin
                      collector_endpoint: /api/v2/spans
                      collector_endpoint_version: HTTP_JSON
                      collector_hostname: zipkin.example
                      trace_id_128bit: ${TRACE128}
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: zipkin
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: zipkin
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${ZIPKIN} } } }
      """;

  private static Legate start(TestUpstream up, ZipkinReceiver zipkin, int random, boolean trace128) {
    return Legate.start(
        CONFIG, Map.of("UP", up.port(), "ZIPKIN", zipkin.port(), "RANDOM", random, "TRACE128", trace128));
  }

  @Test
  void rootSpanIsReportedAndPropagatedInB3() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        ZipkinReceiver zipkin = new ZipkinReceiver();
        Legate l = start(up, zipkin, 100, false)) {
      HttpResponse<String> r = l.get("front", "/echo");
      assertThat(r.statusCode()).isEqualTo(200);
      String rid = echoed(r, "x-request-id");
      JsonObject s = zipkin.await(x -> rid.equals(ZipkinReceiver.tag(x, "guid:x-request-id")), WAIT_MS);
      int port = l.port("front");
      // Envoy's Zipkin tracer names the ingress span after the request's host.
      assertThat(s.get("name").getAsString()).isEqualTo("127.0.0.1:" + port);
      assertThat(s.get("kind").getAsString()).isEqualTo("SERVER");
      assertThat(s.has("parentId")).isFalse();
      assertThat(s.getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo("front-cluster");
      // 64-bit trace ids unless trace_id_128bit.
      assertThat(s.get("traceId").getAsString()).hasSize(16);
      assertThat(echoed(r, "x-b3-traceid")).isEqualTo(s.get("traceId").getAsString());
      assertThat(echoed(r, "x-b3-spanid")).isEqualTo(s.get("id").getAsString());
      assertThat(echoed(r, "x-b3-sampled")).isEqualTo("1");
      assertThat(echoed(r, "x-b3-parentspanid")).isNull();
      assertThat(echoed(r, "traceparent")).isNull();
      assertThat(ZipkinReceiver.tag(s, "http.method")).isEqualTo("GET");
      assertThat(ZipkinReceiver.tag(s, "http.url")).isEqualTo("http://127.0.0.1:" + port + "/echo");
      assertThat(ZipkinReceiver.tag(s, "http.status_code")).isEqualTo("200");
      assertThat(ZipkinReceiver.tag(s, "upstream_cluster")).isEqualTo("up");
      assertThat(ZipkinReceiver.tag(s, "component")).isEqualTo("proxy");
      assertThat(ZipkinReceiver.tag(s, "response_flags")).isEqualTo("-");
      assertThat(zipkin.hosts()).contains("zipkin.example");
      // Counted once the collector has answered, which may be just after it stored the span.
      long deadline = System.nanoTime() + WAIT_MS * 1_000_000L;
      while (l.stat("tracing.zipkin.reports_sent") < 1 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(l.stat("tracing.zipkin.reports_sent")).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void sharedSpanContextKeepsTheCallersSpanId() throws Exception {
    String traceId = "80f198ee56343ba864fe8b2a57d3eff7";
    String span = "e457b5a2e4d86bd1";
    String parent = "05e3ac9a4f6e3b90";
    try (TestUpstream up = new TestUpstream("up");
        ZipkinReceiver zipkin = new ZipkinReceiver();
        Legate l = start(up, zipkin, 0, true)) {
      HttpResponse<String> r =
          l.get(
              "front", "/shared",
              "x-b3-traceid", traceId, "x-b3-spanid", span, "x-b3-parentspanid", parent, "x-b3-sampled", "1");
      JsonObject s = zipkin.await(x -> ZipkinReceiver.tag(x, "http.url").endsWith("/shared"), WAIT_MS);
      assertThat(s.get("traceId").getAsString()).isEqualTo(traceId);
      assertThat(s.get("id").getAsString()).isEqualTo(span);
      assertThat(s.get("parentId").getAsString()).isEqualTo(parent);
      assertThat(echoed(r, "x-b3-traceid")).isEqualTo(traceId);
      assertThat(echoed(r, "x-b3-spanid")).isEqualTo(span);
      assertThat(echoed(r, "x-b3-parentspanid")).isEqualTo(parent);
    }
  }

  @Test
  void unsampledB3IsNotReportedAndSampledSingleHeaderIs() throws Exception {
    String traceId = "a3ce929d0e0e4736";
    String span = "00f067aa0ba902b7";
    try (TestUpstream up = new TestUpstream("up");
        ZipkinReceiver zipkin = new ZipkinReceiver();
        Legate l = start(up, zipkin, 100, false)) {
      HttpResponse<String> no = l.get("front", "/no", "x-b3-traceid", traceId, "x-b3-spanid", span, "x-b3-sampled", "0");
      // Not sampled: not reported, but the trace goes on through our (shared, by default) span,
      // sampled flag off.
      assertThat(echoed(no, "x-b3-traceid")).isEqualTo(traceId);
      assertThat(echoed(no, "x-b3-spanid")).isEqualTo(span);
      assertThat(echoed(no, "x-b3-parentspanid")).isNull();
      assertThat(echoed(no, "x-b3-sampled")).isEqualTo("0");
      // Without a context: a new trace, still unsampled.
      HttpResponse<String> root = l.get("front", "/root", "x-b3-sampled", "0");
      assertThat(echoed(root, "x-b3-traceid")).matches("[0-9a-f]{16}").isNotEqualTo("0".repeat(16));
      assertThat(echoed(root, "x-b3-spanid")).matches("[0-9a-f]{16}");
      assertThat(echoed(root, "x-b3-parentspanid")).isNull();
      assertThat(echoed(root, "x-b3-sampled")).isEqualTo("0");
      HttpResponse<String> yes = l.get("front", "/yes", "b3", traceId + "-" + span + "-1");
      JsonObject s = zipkin.await(x -> ZipkinReceiver.tag(x, "http.url").endsWith("/yes"), WAIT_MS);
      assertThat(s.get("traceId").getAsString()).isEqualTo(traceId);
      assertThat(s.get("id").getAsString()).isEqualTo(span);
      assertThat(echoed(yes, "x-b3-spanid")).isEqualTo(span);
      assertThat(echoed(yes, "b3")).isNull();
      assertThat(zipkin.spans()).hasSize(1);
    }
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.legate.tracing.OtlpReceiver;
import io.opentelemetry.proto.trace.v1.Span;
import io.opentelemetry.proto.trace.v1.Status;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * HCM tracing with {@code envoy.tracers.opentelemetry}: spans reach a real OTLP/gRPC collector
 * registered as a Legate cluster, and the upstream sees the proxy's span in {@code traceparent}.
 */
class OpenTelemetryTracingIntegrationTest {
  static final long WAIT_MS = 5000;

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
                stat_prefix: front
                tracing:
                  random_sampling: { value: ${RANDOM} }
                  spawn_upstream_span: ${SPAWN}
                  max_path_tag_length: 12
                  custom_tags:
                  - tag: lit
                    literal: { value: v1 }
                  - tag: hdr
                    request_header: { name: X-Custom, default_value: none }
                  provider:
                    name: envoy.tracers.opentelemetry
                    typed_config:
                      "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                      grpc_service: { envoy_grpc: { cluster_name: otel } }
                      service_name: front-proxy
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
        - name: otel
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: otel
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${OTEL} } } }
      """;

  /** Returns the value of a header the echo upstream reports it received, or null. */
  static String echoed(HttpResponse<String> r, String name) {
    for (String line : r.body().split("\n")) {
      int colon = line.indexOf(": ");
      if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
        return line.substring(colon + 2).trim();
      }
    }
    return null;
  }

  private static Legate start(TestUpstream up, OtlpReceiver otel, int random, boolean spawn) {
    return Legate.start(
        CONFIG, Map.of("UP", up.port(), "OTEL", otel.port(), "RANDOM", random, "SPAWN", spawn));
  }

  @Test
  void sampledRequestIsExportedWithEnvoysTagsAndPropagatedUpstream() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 100, false)) {
      HttpResponse<String> r = l.get("front", "/echo/long/path?q=1", "user-agent", "tester", "x-custom", "hv");
      assertThat(r.statusCode()).isEqualTo(200);
      String rid = echoed(r, "x-request-id");
      // The trace reason is packed into the request id: 'a' = sampled by random_sampling.
      assertThat(rid).hasSize(36);
      assertThat(rid.charAt(14)).isEqualTo('a');
      String traceparent = echoed(r, "traceparent");

      OtlpReceiver.Received s = otel.await(x -> rid.equals(x.attributes().get("guid:x-request-id")), WAIT_MS);
      assertThat(s.serviceName()).isEqualTo("front-proxy");
      assertThat(s.span().getName()).isEqualTo("ingress");
      assertThat(s.span().getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
      assertThat(s.parentSpanId()).isEmpty();
      assertThat(traceparent).isEqualTo("00-" + s.traceId() + "-" + s.spanId() + "-01");
      int port = l.port("front");
      assertThat(s.attributes())
          .containsEntry("http.method", "GET")
          .containsEntry("http.url", "http://127.0.0.1:" + port + "/echo/long/p")
          .containsEntry("http.protocol", "HTTP/1.1")
          .containsEntry("http.status_code", "200")
          .containsEntry("upstream_cluster", "up")
          .containsEntry("upstream_cluster.name", "up")
          .containsEntry("upstream_address", "127.0.0.1:" + up.port())
          .containsEntry("response_flags", "-")
          .containsEntry("component", "proxy")
          .containsEntry("user_agent", "tester")
          .containsEntry("downstream_cluster", "-")
          .containsEntry("peer.address", "127.0.0.1")
          .containsEntry("request_size", "0")
          .containsEntry("lit", "v1")
          .containsEntry("hdr", "hv")
          .containsKey("node_id")
          .doesNotContainKey("error");
      assertThat(Long.parseLong(s.attributes().get("response_size"))).isEqualTo(r.body().length());
      assertThat(s.span().getEndTimeUnixNano()).isGreaterThan(s.span().getStartTimeUnixNano());
      assertThat(l.stat("http.front.tracing.random_sampling")).isEqualTo(1);
      assertThat(l.stat("tracing.opentelemetry.spans_sent")).isEqualTo(1);
    }
  }

  @Test
  void serverErrorsAreTaggedAsErrors() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 100, false)) {
      HttpResponse<String> r = l.get("front", "/status/503");
      assertThat(r.statusCode()).isEqualTo(503);
      OtlpReceiver.Received s = otel.await(x -> "503".equals(x.attributes().get("http.status_code")), WAIT_MS);
      assertThat(s.attributes()).containsEntry("error", "true").containsEntry("hdr", "none");
      assertThat(s.span().getStatus().getCode()).isEqualTo(Status.StatusCode.STATUS_CODE_ERROR);
    }
  }

  @Test
  void zeroRandomSamplingExportsOnlyForcedRequests() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 0, false)) {
      HttpResponse<String> plain = l.get("front", "/plain");
      // Not sampled: nothing exported, but the upstream gets a new trace with the sampled flag off.
      assertThat(echoed(plain, "traceparent")).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
      assertThat(echoed(plain, "x-request-id").charAt(14)).isEqualTo('4');
      HttpResponse<String> forced = l.get("front", "/forced", "x-envoy-force-trace", "true");
      String rid = echoed(forced, "x-request-id");
      assertThat(rid.charAt(14)).isEqualTo('9');
      OtlpReceiver.Received s = otel.await(x -> rid.equals(x.attributes().get("guid:x-request-id")), WAIT_MS);
      assertThat(echoed(forced, "traceparent")).isEqualTo("00-" + s.traceId() + "-" + s.spanId() + "-01");
      // Both requests were done before the forced span was exported: the plain one made none.
      assertThat(otel.spans()).hasSize(1);
      assertThat(l.stat("http.front.tracing.not_traceable")).isEqualTo(1);
      assertThat(l.stat("http.front.tracing.service_forced")).isEqualTo(1);
    }
  }

  @Test
  void incomingSampledTraceparentIsHonouredAndContinued() throws Exception {
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    String parent = "00f067aa0ba902b7";
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 0, false)) {
      HttpResponse<String> unsampled =
          l.get("front", "/unsampled", "traceparent", "00-" + traceId + "-" + parent + "-00", "x-envoy-force-trace", "1");
      // An unsampled parent wins over the forced decision; the trace goes on unsampled, through a
      // span of ours that is not exported.
      assertThat(echoed(unsampled, "traceparent")).matches("00-" + traceId + "-[0-9a-f]{16}-00").doesNotContain(parent);
      HttpResponse<String> r =
          l.get("front", "/sampled", "traceparent", "00-" + traceId + "-" + parent + "-01", "tracestate", "k=v");
      OtlpReceiver.Received s = otel.await(x -> x.attributes().getOrDefault("http.url", "").endsWith("/sampled"), WAIT_MS);
      assertThat(s.traceId()).isEqualTo(traceId);
      assertThat(s.parentSpanId()).isEqualTo(parent);
      assertThat(s.spanId()).isNotEqualTo(parent).hasSize(16);
      assertThat(s.span().getTraceState()).isEqualTo("k=v");
      assertThat(echoed(r, "traceparent")).isEqualTo("00-" + traceId + "-" + s.spanId() + "-01");
      assertThat(echoed(r, "tracestate")).isEqualTo("k=v");
      assertThat(otel.spans()).hasSize(1);
    }
  }

  @Test
  void incomingB3ContextIsContinuedInW3c() throws Exception {
    String traceId = "463ac35c9f6413ad48485a3953bb6124";
    String parent = "0020000000000001";
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 0, false)) {
      HttpResponse<String> r = l.get("front", "/b3", "b3", traceId + "-" + parent + "-1");
      OtlpReceiver.Received s = otel.await(x -> x.attributes().getOrDefault("http.url", "").endsWith("/b3"), WAIT_MS);
      assertThat(s.traceId()).isEqualTo(traceId);
      assertThat(s.parentSpanId()).isEqualTo(parent);
      assertThat(echoed(r, "traceparent")).isEqualTo("00-" + traceId + "-" + s.spanId() + "-01");
    }
  }

  @Test
  void spawnUpstreamSpanMakesTheRouterSpanTheIngressSpansChild() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        OtlpReceiver otel = new OtlpReceiver();
        Legate l = start(up, otel, 100, true)) {
      HttpResponse<String> r = l.get("front", "/child");
      assertThat(r.statusCode()).isEqualTo(200);
      OtlpReceiver.Received ingress = otel.await(x -> x.span().getName().equals("ingress"), WAIT_MS);
      OtlpReceiver.Received egress = otel.await(x -> x.span().getName().equals("router up egress"), WAIT_MS);
      assertThat(ingress.span().getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
      assertThat(egress.span().getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_CLIENT);
      assertThat(egress.traceId()).isEqualTo(ingress.traceId());
      assertThat(egress.parentSpanId()).isEqualTo(ingress.spanId());
      assertThat(echoed(r, "traceparent")).isEqualTo("00-" + ingress.traceId() + "-" + egress.spanId() + "-01");
      assertThat(egress.attributes())
          .containsEntry("http.protocol", "HTTP/1.1")
          .containsEntry("upstream_address", "127.0.0.1:" + up.port())
          .containsEntry("peer.address", "127.0.0.1:" + up.port())
          .containsEntry("upstream_cluster", "up")
          .containsEntry("http.status_code", "200")
          .containsEntry("component", "proxy")
          .doesNotContainKey("retry.count");
    }
  }

  @Test
  void unsampledRequestsCarryATraceUpstreamWithTheSampledFlagOff() throws Exception {
    String traceId = "0af7651916cd43dd8448eb211c80319c";
    String parent = "b7ad6b7169203331";
    for (boolean spawn : new boolean[] {false, true}) {
      try (TestUpstream up = new TestUpstream("up");
          OtlpReceiver otel = new OtlpReceiver();
          Legate l = start(up, otel, 0, spawn)) {
        String root1 = echoed(l.get("front", "/a"), "traceparent");
        String root2 = echoed(l.get("front", "/b"), "traceparent");
        assertThat(root1).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
        assertThat(root2).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
        assertThat(root1.substring(3, 35)).isNotEqualTo(root2.substring(3, 35)).isNotEqualTo("0".repeat(32));
        HttpResponse<String> child =
            l.get("front", "/c", "traceparent", "00-" + traceId + "-" + parent + "-00", "tracestate", "vendor=x");
        String tp = echoed(child, "traceparent");
        assertThat(tp).matches("00-" + traceId + "-[0-9a-f]{16}-00");
        assertThat(tp.substring(36, 52)).isNotEqualTo(parent);
        assertThat(echoed(child, "tracestate")).isEqualTo("vendor=x");
        assertThat(l.stat("http.front.tracing.not_traceable")).isEqualTo(3);
        // A sampled request afterwards is the only span exported.
        l.get("front", "/d", "x-envoy-force-trace", "true");
        otel.await(x -> x.attributes().getOrDefault("http.url", "").endsWith("/d"), WAIT_MS);
        assertThat(otel.spans()).hasSize(spawn ? 2 : 1);
        assertThat(otel.spans()).noneMatch(x -> x.traceId().equals(traceId));
      }
    }
  }
}

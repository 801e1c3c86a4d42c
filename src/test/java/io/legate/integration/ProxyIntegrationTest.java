package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The core proxy path over HTTP/1.1: routing, forwarding, local replies and their flags. */
class ProxyIntegrationTest {
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
                use_remote_address: true
                route_config:
                  name: local
                  validate_clusters: false
                  response_headers_to_add:
                  - header: { key: x-route-config, value: "yes" }
                  virtual_hosts:
                  - name: other
                    domains: ["other.example.com", "other.example.com:*"]
                    routes:
                    - match: { prefix: "/" }
                      direct_response: { status: 200, body: { inline_string: "other" } }
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/echo" }
                      route: { cluster: up1 }
                      request_headers_to_add:
                      - header: { key: x-added, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" }
                    - match: { prefix: "/h2/" }
                      route: { cluster: up_h2, prefix_rewrite: "/" }
                    - match: { prefix: "/direct" }
                      direct_response: { status: 201, body: { inline_string: "direct body" } }
                    - match: { prefix: "/redirect" }
                      redirect: { https_redirect: true }
                    - match: { prefix: "/nocluster" }
                      route: { cluster: missing }
                    - match: { prefix: "/unhealthy" }
                      route: { cluster: empty }
                    - match: { prefix: "/refused" }
                      route: { cluster: refused }
                    - match: { prefix: "/slow" }
                      route: { cluster: up1, timeout: 0.3s, prefix_rewrite: "/delay/3000" }
                    - match: { prefix: "/close" }
                      route: { cluster: up1 }
                    - match: { prefix: "/status" }
                      route: { cluster: up1 }
                    - match: { prefix: "/size" }
                      route: { cluster: up1 }
                    - match: { prefix: "/delay" }
                      route: { cluster: up1 }
                http_filters:
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
        - name: up_h2
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config:
                http2_protocol_options: {}
          load_assignment:
            cluster_name: up_h2
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
        - name: empty
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: empty }
        - name: refused
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: refused
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${CLOSED} } } }
      """;

  static TestUpstream up1;
  static RefusedPort closed;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    up1 = new TestUpstream("up1");
    closed = new RefusedPort();
    legate = Legate.start(CONFIG, Map.of("UP1", up1.port(), "CLOSED", closed.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    up1.close();
    closed.close();
  }

  @Test
  void forwardsRequestWithEnvoysHeaders() {
    HttpResponse<String> r = legate.get("front", "/echo/a?x=1", "x-request-id", "client-id");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("GET /echo/a?x=1 HTTP/1.1\n");
    assertThat(r.body()).contains("host: 127.0.0.1:" + legate.port("front") + "\n");
    assertThat(r.body()).contains("x-forwarded-proto: http\n");
    assertThat(r.body()).contains("x-forwarded-for: 127.0.0.1\n");
    assertThat(r.body()).contains("x-envoy-internal: true\n");
    assertThat(r.body()).contains("x-envoy-expected-rq-timeout-ms: 15000\n");
    assertThat(r.body()).contains("x-added: 127.0.0.1\n");
    // An internal request keeps its request id.
    assertThat(r.body()).contains("x-request-id: client-id\n");
    assertThat(r.headers().firstValue("x-upstream")).hasValue("up1");
    assertThat(r.headers().firstValue("server")).hasValue("envoy");
    assertThat(r.headers().firstValue("x-route-config")).hasValue("yes");
    assertThat(r.headers().firstValue("x-envoy-upstream-service-time")).isPresent();
    assertThat(r.headers().firstValue("date")).isPresent();
  }

  @Test
  void generatesRequestIdWhenAbsent() {
    HttpResponse<String> r = legate.get("front", "/echo/id");
    assertThat(r.body()).containsPattern("x-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n");
  }

  @Test
  void streamsRequestAndResponseBodies() {
    String body = "x".repeat(300_000);
    HttpResponse<String> r =
        legate.send(
            HttpRequest.newBuilder(legate.uri("front", "/echo/post"))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("POST /echo/post HTTP/1.1\n");
    assertThat(r.body()).endsWith("\n\n" + body);
    HttpResponse<String> big = legate.get("front", "/size/1048576");
    assertThat(big.body()).hasSize(1048576);
  }

  @Test
  void reusesUpstreamConnections() {
    try (TestUpstream fresh = new TestUpstream("fresh")) {
      // A fresh upstream proves keep-alive: ten sequential requests, one connection per worker at most.
      String yaml = CONFIG.replace("${UP1}", String.valueOf(fresh.port()));
      try (Legate l = Legate.start(yaml, Map.of("CLOSED", 1))) {
        for (int i = 0; i < 10; i++) {
          assertThat(l.get("front", "/echo/" + i).statusCode()).isEqualTo(200);
        }
        assertThat(fresh.connections()).isBetween(1, 2);
      }
    }
  }

  @Test
  void translatesToHttp2Upstream() {
    HttpResponse<String> r = legate.get("front", "/h2/echo/b");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("GET /echo/b HTTP/2\n");
    assertThat(r.body()).contains("x-envoy-original-path: /h2/echo/b\n");
    HttpResponse<String> post =
        legate.send(
            HttpRequest.newBuilder(legate.uri("front", "/h2/echo/post"))
                .POST(HttpRequest.BodyPublishers.ofString("payload-123"))
                .build());
    assertThat(post.body()).startsWith("POST /echo/post HTTP/2\n").endsWith("\n\npayload-123");
  }

  @Test
  void directResponseAndRedirect() {
    HttpResponse<String> d = legate.get("front", "/direct");
    assertThat(d.statusCode()).isEqualTo(201);
    assertThat(d.body()).isEqualTo("direct body");
    assertThat(d.headers().firstValue("x-route-config")).hasValue("yes");
    HttpResponse<String> r = legate.get("front", "/redirect/x?y=1");
    assertThat(r.statusCode()).isEqualTo(301);
    assertThat(r.headers().firstValue("location"))
        .hasValue("https://127.0.0.1:" + legate.port("front") + "/redirect/x?y=1");
  }

  @Test
  void virtualHostByHostHeader() {
    String resp = legate.raw("front", "GET / HTTP/1.1\r\nHost: other.example.com\r\nConnection: close\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nother");
  }

  @Test
  void noRouteIs404() {
    long before = legate.stat("http.ingress.no_route");
    HttpResponse<String> r = legate.get("front", "/nothing-here");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).isEmpty();
    assertThat(legate.stat("http.ingress.no_route")).isEqualTo(Math.max(0, before) + 1);
  }

  @Test
  void unknownClusterIs503() {
    HttpResponse<String> r = legate.get("front", "/nocluster");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(legate.stat("http.ingress.no_cluster")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void noHealthyUpstreamIs503() {
    HttpResponse<String> r = legate.get("front", "/unhealthy");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("no healthy upstream");
    assertThat(legate.stat("cluster.empty.upstream_cx_none_healthy")).isGreaterThanOrEqualTo(1);
    // As Envoy, the local reply counts as the cluster's response code.
    assertThat(legate.stat("cluster.empty.upstream_rq_503")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void connectFailureIs503() {
    HttpResponse<String> r = legate.get("front", "/refused");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .startsWith("upstream connect error or disconnect/reset before headers. reset reason: connection failure");
    assertThat(legate.stat("cluster.refused.upstream_cx_connect_fail")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("cluster.refused.upstream_rq_503")).isEqualTo(legate.stat("cluster.refused.upstream_cx_connect_fail"));
    assertThat(legate.stat("cluster.refused.upstream_rq_5xx")).isEqualTo(legate.stat("cluster.refused.upstream_rq_503"));
  }

  @Test
  void routeTimeoutIs504() {
    HttpResponse<String> r = legate.get("front", "/slow");
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(r.body()).isEqualTo("upstream request timeout");
    assertThat(legate.stat("cluster.up1.upstream_rq_timeout")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("cluster.up1.upstream_rq_504")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void timeoutHeaderOverridesRoute() {
    HttpResponse<String> r = legate.get("front", "/delay/2000", "x-envoy-upstream-rq-timeout-ms", "200");
    assertThat(r.statusCode()).isEqualTo(504);
  }

  @Test
  void upstreamCloseBeforeHeadersIs503() {
    HttpResponse<String> r = legate.get("front", "/close");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: connection termination");
  }

  @Test
  void upstreamStreamResetIs503() {
    HttpResponse<String> r = legate.get("front", "/h2/reset");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: remote reset");
    assertThat(legate.stat("cluster.up_h2.upstream_rq_rx_reset")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void upstreamStatusPassesThroughWithStats() {
    HttpResponse<String> r = legate.get("front", "/status/418");
    assertThat(r.statusCode()).isEqualTo(418);
    assertThat(legate.stat("cluster.up1.upstream_rq_418")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("cluster.up1.upstream_rq_4xx")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("http.ingress.downstream_rq_4xx")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void pipelinedRequestsAnswerInOrder() {
    String req =
        "GET /delay/200 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /echo/second HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /direct HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    String resp = legate.raw("front", req, 5000);
    int first = resp.indexOf("GET /delay/200 HTTP/1.1");
    int second = resp.indexOf("GET /echo/second HTTP/1.1");
    int third = resp.indexOf("direct body");
    assertThat(first).isGreaterThan(0);
    assertThat(second).isGreaterThan(first);
    assertThat(third).isGreaterThan(second);
    assertThat(resp.split("HTTP/1.1 20", -1)).hasSize(4);
  }

  @Test
  void chunkedUploadAndExpectContinue() {
    String chunked =
        "POST /echo/chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    String resp = legate.raw("front", chunked, 5000);
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\n\nhello world");
    String expect =
        "POST /echo/expect HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc";
    String resp2 = legate.raw("front", expect, 5000);
    assertThat(resp2).startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n");
    assertThat(resp2).doesNotContain("expect: 100-continue").endsWith("\n\nabc");
  }

  @Test
  void malformedRequestIs400AndCloses() {
    String resp = legate.raw("front", "GET /echo HTTP/1.1\r\nHost: a\r\nbad header line\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 400 Bad Request\r\n").contains("connection: close");
    String noHost = legate.raw("front", "GET /echo HTTP/1.1\r\n\r\n", 3000);
    assertThat(noHost).startsWith("HTTP/1.1 400 Bad Request\r\n");
  }

  @Test
  void oversizedHeadersAre431() {
    String big = "x-big: " + "a".repeat(70 * 1024) + "\r\n";
    String resp = legate.raw("front", "GET /echo HTTP/1.1\r\nHost: a\r\n" + big + "\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
  }

  @Test
  void http10IsRefusedByDefault() {
    String resp = legate.raw("front", "GET /echo HTTP/1.0\r\nHost: a\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 426 Upgrade Required\r\n");
  }

  @Test
  void adminReportsReadyAndStats() {
    HttpResponse<String> ready = legate.admin("/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).isEqualTo("LIVE\n");
    legate.get("front", "/echo/stats");
    assertThat(legate.stat("cluster.up1.upstream_rq_200")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("http.ingress.downstream_rq_2xx")).isGreaterThanOrEqualTo(1);
    assertThat(legate.stat("listener.127.0.0.1_0.downstream_cx_total")).isGreaterThanOrEqualTo(1);
    assertThat(legate.admin("/clusters").body()).contains("up1::127.0.0.1:" + up1.port() + "::rq_total::");
  }
}

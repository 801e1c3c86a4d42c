package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** HTTP connection manager options, each on its own listener of one server. */
class HcmOptionsIntegrationTest {
  static String listener(String name, String address, String hcmExtra, String routeExtra) {
    return """
          - name: %s
            address: { socket_address: { address: "%s", port_value: 0 } }
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: %s
      %s
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/" }
                        route: { cluster: up %s }
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      """
        .formatted(name, address, name, indent(hcmExtra), routeExtra);
  }

  static String indent(String s) {
    StringBuilder sb = new StringBuilder();
    for (String line : s.split("\n")) {
      if (!line.isBlank()) {
        sb.append("            ").append(line).append('\n');
      }
    }
    return sb.toString().stripTrailing();
  }

  static final String CONFIG =
      "admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\n"
          + "static_resources:\n  listeners:\n"
          + listener("normalize", "127.0.0.1", "normalize_path: true\nmerge_slashes: true", "")
          + listener("underscores", "127.0.0.1",
              "common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }", "")
          + listener("dropunderscores", "127.0.0.1",
              "common_http_protocol_options: { headers_with_underscores_action: DROP_HEADER }", "")
          + listener("server", "127.0.0.1", "server_name: legate-edge", "")
          + listener("passthrough", "127.0.0.1", "server_header_transformation: PASS_THROUGH", "")
          + listener("noreqid", "127.0.0.1", "generate_request_id: false", "")
          + listener("edge", "127.0.0.1", "use_remote_address: true\nxff_num_trusted_hops: 1", "")
          + listener("idle", "127.0.0.1", "stream_idle_timeout: 0.3s", "")
          + listener("maxheaders", "127.0.0.1", "common_http_protocol_options: { max_headers_count: 5 }", "")
          + listener("h2only", "127.0.0.1", "codec_type: HTTP2", "")
          + listener("v6", "::1", "", "")
          + listener("http10", "127.0.0.1", "http_protocol_options: { accept_http_10: true, default_host_for_http_10: legacy.example }", "")
          + listener("stripport", "127.0.0.1", "strip_any_host_port: true", "")
          + listener("hdrtimeout", "127.0.0.1", "request_headers_timeout: 0.3s", "")
          + listener("cxidle", "127.0.0.1", "common_http_protocol_options: { idle_timeout: 0.3s }", "")
          + listener("cxidleslow", "127.0.0.1", "common_http_protocol_options: { idle_timeout: 0.5s }", "")
          + listener("cxidleh2", "127.0.0.1", "common_http_protocol_options: { idle_timeout: 0.5s }", "")
          + listener("reqtimeout", "127.0.0.1", "request_timeout: 0.3s", "")
          + listener("maxduration", "127.0.0.1", "common_http_protocol_options: { max_stream_duration: 0.3s }", "")
          + listener("escreject", "127.0.0.1", "path_with_escaped_slashes_action: REJECT_REQUEST", "")
          + listener("escforward", "127.0.0.1", "path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD", "")
          + listener("escredirect", "127.0.0.1",
              "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT\nmerge_slashes: true", "")
          + listener("esckeep", "127.0.0.1", "path_with_escaped_slashes_action: KEEP_UNCHANGED", "")
          + """
            clusters:
            - name: up
              type: STATIC
              connect_timeout: 1s
              load_assignment:
                cluster_name: up
                endpoints:
                - lb_endpoints:
                  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
          """;

  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() {
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    up.close();
  }

  @Test
  void normalizesPathAndMergesSlashes() {
    HttpResponse<String> r = legate.get("normalize", "/a//b/../c/./d?q=1");
    assertThat(r.body()).startsWith("GET /a/c/d?q=1 HTTP/1.1\n");
  }

  @Test
  void escapedSlashesAreRejectedUnescapedOrRedirectedAsConfigured() {
    HttpResponse<String> rejected = legate.get("escreject", "/a%2Fb");
    assertThat(rejected.statusCode()).isEqualTo(400);
    assertThat(legate.get("escreject", "/a/b").statusCode()).isEqualTo(200);

    // %2F, %2f, %5C and %5c become / and \ before routing; the query is left alone.
    HttpResponse<String> forwarded = legate.get("escforward", "/a%2Fb%2fc%5Cd?x=%2F");
    assertThat(forwarded.statusCode()).isEqualTo(200);
    assertThat(forwarded.body()).startsWith("GET /a/b/c\\d?x=%2F HTTP/1.1\n");

    HttpResponse<String> redirected = legate.get("escredirect", "/a%2F%2Fb?q=1");
    assertThat(redirected.statusCode()).isEqualTo(307);
    assertThat(redirected.headers().firstValue("location")).hasValue("/a/b?q=1");
    assertThat(legate.get("escredirect", "/a/b").statusCode()).isEqualTo(200);

    HttpResponse<String> kept = legate.get("esckeep", "/a%2Fb");
    assertThat(kept.body()).startsWith("GET /a%2Fb HTTP/1.1\n");
  }

  @Test
  void rejectsOrDropsHeadersWithUnderscores() {
    String rejected = legate.raw("underscores", "GET / HTTP/1.1\r\nHost: a\r\nx_bad: 1\r\n\r\n", 3000);
    assertThat(rejected).startsWith("HTTP/1.1 400 Bad Request\r\n");
    String dropped = legate.raw("dropunderscores", "GET / HTTP/1.1\r\nHost: a\r\nx_bad: 1\r\nx-good: 2\r\nConnection: close\r\n\r\n", 3000);
    assertThat(dropped).startsWith("HTTP/1.1 200 OK\r\n").contains("x-good: 2\n").doesNotContain("x_bad");
  }

  @Test
  void serverHeader() {
    assertThat(legate.get("server", "/").headers().firstValue("server")).hasValue("legate-edge");
    // PASS_THROUGH keeps the upstream's (absent) server header.
    assertThat(legate.get("passthrough", "/").headers().firstValue("server")).isEmpty();
  }

  @Test
  void requestIdGenerationCanBeOff() {
    assertThat(legate.get("noreqid", "/").body()).doesNotContain("x-request-id");
  }

  @Test
  void trustedHopsAndExternalRequests() {
    // One trusted hop: the client address is taken from XFF, so the request is external; Envoy
    // appends the peer address and strips x-envoy-* control headers from external requests.
    HttpResponse<String> r =
        legate.get("edge", "/", "x-forwarded-for", "203.0.113.7", "x-envoy-upstream-rq-timeout-ms", "5", "x-request-id", "abc");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("x-forwarded-for: 203.0.113.7,127.0.0.1\n");
    assertThat(r.body()).doesNotContain("x-request-id: abc");
  }

  @Test
  void streamIdleTimeoutIs408() {
    String resp = legate.raw("idle", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", 3000);
    assertThat(resp).startsWith("HTTP/1.1 408 Request Timeout\r\n").endsWith("stream timeout");
  }

  @Test
  void tooManyHeadersIs431() {
    String resp = legate.raw("maxheaders", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
  }

  @Test
  void http2OnlyListener() {
    try (H2Client c = new H2Client(legate.port("h2only"))) {
      H2Client.Response r = c.get("/x");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).startsWith("GET /x HTTP/1.1\n");
    }
  }

  @Test
  void ipv6Listener() {
    String resp =
        new Legate.Raw("::1", legate.port("v6")).send("GET /v6 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n").contains("GET /v6 HTTP/1.1\n");
  }

  @Test
  void http10WithDefaultHost() {
    String resp = legate.raw("http10", "GET /old HTTP/1.0\r\n\r\n", 3000);
    assertThat(resp).startsWith("HTTP/1.0 200 OK\r\n").contains("host: legacy.example\n");
  }

  @Test
  void stripsHostPort() {
    String resp = legate.raw("stripport", "GET / HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n", 3000);
    assertThat(resp).contains("host: example.com\n");
  }

  @Test
  void idleConnectionIsClosed() {
    long t0 = System.nanoTime();
    // A keep-alive request, then silence: the connection manager closes the idle connection.
    String resp = legate.raw("cxidle", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 5000);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n");
    assertThat(ms).isLessThan(4000); // closed by the proxy, not by the read timeout
    assertThat(legate.stat("http.cxidle.downstream_cx_idle_timeout")).isEqualTo(1);
  }

  @Test
  void idleTimeoutWaitsForTheRequestInProgress() {
    // idle_timeout counts time with no active request, not time without traffic (as Envoy): an
    // upstream slower than the timeout is answered, then the idle connection is closed.
    long t0 = System.nanoTime();
    String resp = legate.raw("cxidleslow", "GET /delay/1200 HTTP/1.1\r\nHost: a\r\n\r\n", 6000);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n");
    assertThat(ms).isBetween(1600L, 5000L); // the response (1.2 s), then 0.5 s idle
    assertThat(legate.stat("http.cxidleslow.downstream_cx_idle_timeout")).isEqualTo(1);
  }

  @Test
  void http2IdleTimeoutCountsOpenStreamsNotTraffic() throws Exception {
    try (H2Client c = new H2Client(legate.port("cxidleh2"))) {
      CompletableFuture<H2Client.Response> slow = CompletableFuture.supplyAsync(() -> c.get("/delay/1500"));
      // Past the 0.5 s timeout with no frame either way, but a stream is open: the connection is
      // not idle, and a new stream on it works.
      Thread.sleep(900);
      assertThat(c.get("/after").status()).isEqualTo(200);
      assertThat(slow.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      long t0 = System.nanoTime();
      // Nothing open any more: GOAWAY and close after the timeout.
      assertThat(c.awaitClosed(3000)).isTrue();
      assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(300);
    }
    assertThat(legate.stat("http.cxidleh2.downstream_cx_idle_timeout")).isEqualTo(1);
  }

  @Test
  void requestTimeoutIs408() {
    String resp = legate.raw("reqtimeout", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", 3000);
    assertThat(resp).startsWith("HTTP/1.1 408 Request Timeout\r\n").endsWith("request timeout");
    assertThat(legate.stat("http.reqtimeout.downstream_rq_timeout")).isEqualTo(1);
  }

  @Test
  void maxStreamDurationEndsSlowStreams() {
    HttpResponse<String> r = legate.get("maxduration", "/delay/2000");
    assertThat(r.statusCode()).isEqualTo(408);
    assertThat(legate.stat("http.maxduration.downstream_rq_max_duration_reached")).isEqualTo(1);
  }

  @Test
  void slowHeadersGet408() {
    // Headers trickle in and never finish: 408 after request_headers_timeout, connection closed.
    String resp = legate.raw("hdrtimeout", "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ", 3000);
    assertThat(resp).startsWith("HTTP/1.1 408 Request Timeout\r\n").contains("connection: close");
    assertThat(legate.stat("http.hdrtimeout.downstream_rq_header_timeout")).isEqualTo(1);
    // A complete request on a keep-alive connection is not affected.
    String ok = legate.raw("hdrtimeout", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 3000);
    assertThat(ok).startsWith("HTTP/1.1 200 OK\r\n");
  }
}

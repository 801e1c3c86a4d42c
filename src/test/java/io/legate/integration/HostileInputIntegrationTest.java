package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of malformed and request-smuggling HTTP/1.1 requests, sent raw over sockets. Each case
 * names the status Envoy answers with and the connection's fate; in every case the connection is
 * closed after the error and no smuggled second request reaches the upstream.
 */
class HostileInputIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: edge
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                codec_type: HTTP1
                common_http_protocol_options: { max_headers_count: 20 }
                max_request_headers_kb: 8
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

  /** What came back on one connection: the bytes, and whether the proxy closed it. */
  record Exchange(String response, boolean closed) {}

  static Exchange exchange(String request) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", legate.port("edge")), 5000);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      StringBuilder sb = new StringBuilder();
      byte[] buf = new byte[8192];
      boolean closed = false;
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        closed = true;
      } catch (SocketTimeoutException e) {
        closed = false;
      } catch (IOException e) {
        closed = true; // reset by the proxy
      }
      return new Exchange(sb.toString(), closed);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static final String SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

  static Stream<Arguments> corpus() {
    return Stream.of(
        Arguments.of("content-length and transfer-encoding", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
        Arguments.of("transfer-encoding and content-length", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + SMUGGLED),
        Arguments.of("two differing content-lengths", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + SMUGGLED),
        Arguments.of("content-length list", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 40\r\n\r\nabc" + SMUGGLED),
        Arguments.of("negative content-length", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n" + SMUGGLED),
        Arguments.of("non-numeric content-length", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nab" + SMUGGLED),
        Arguments.of("unknown transfer coding", 501,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc" + SMUGGLED),
        Arguments.of("chunked not last", 501,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
        Arguments.of("space before colon in transfer-encoding", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
        Arguments.of("obs-fold", 400,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"),
        Arguments.of("bare CR in a header value", 400,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\rb\r\n\r\n"),
        Arguments.of("NUL in a header value", 400,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\0b\r\n\r\n"),
        Arguments.of("control character in a header value", 400,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n"),
        Arguments.of("space in a header name", 400,
            "GET / HTTP/1.1\r\nHost: a\r\nX Bad: 1\r\n\r\n"),
        Arguments.of("invalid character in the method", 400,
            "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        Arguments.of("invalid version", 400,
            "GET / HTTP/9.7\r\nHost: a\r\n\r\n"),
        Arguments.of("invalid chunk size", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        Arguments.of("chunk size overflow", 400,
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        Arguments.of("missing host", 400,
            "GET / HTTP/1.1\r\n\r\n"),
        Arguments.of("header section too large", 431,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "a".repeat(10_000) + "\r\n\r\n"),
        Arguments.of("too many headers", 431,
            "GET / HTTP/1.1\r\nHost: a\r\n" + "X-H: 1\r\n".repeat(30) + "\r\n"));
  }

  @ParameterizedTest(name = "{0} → {1}")
  @MethodSource("corpus")
  void rejectsAndCloses(String name, int status, String request) {
    int before = up.requests().size();
    Exchange e = exchange(request);
    assertThat(e.response()).as(name).startsWith("HTTP/1.1 " + status + " ");
    assertThat(e.response()).as(name).containsIgnoringCase("\r\nconnection: close\r\n");
    assertThat(e.closed()).as(name + ": connection closed").isTrue();
    assertThat(e.response().indexOf("HTTP/1.1", 1)).as(name + ": exactly one response").isEqualTo(-1);
    assertThat(up.requests().size()).as(name + ": nothing reached the upstream").isEqualTo(before);
  }

  @Test
  void aFoldedHeaderInAPipelinedRequestIsRejectedAfterTheFirstIsAnswered() {
    Exchange e =
        exchange(
            "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /two HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n");
    assertThat(e.response()).startsWith("HTTP/1.1 200 OK\r\n").contains("POST /one HTTP/1.1\n");
    assertThat(e.response()).containsOnlyOnce("HTTP/1.1 400 Bad Request\r\n");
    assertThat(e.response()).doesNotContain("/two");
    assertThat(e.closed()).isTrue();
  }

  @Test
  void aBodyMayContainWhatLooksLikeAFold() {
    Exchange e = exchange("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nConnection: close\r\n\r\na\r\n b\r\n");
    assertThat(e.response()).startsWith("HTTP/1.1 200 OK\r\n").endsWith("a\r\n b\r\n");
  }

  @Test
  void aSlowReaderDoesNotMakeTheProxyBufferTheBody() throws Exception {
    int size = 32 << 20;
    long before = legate.stat("cluster.up.upstream_cx_rx_bytes_total");
    long pausedBefore = legate.stat("cluster.up.upstream_flow_control_paused_reading_total");
    long resumedBefore = legate.stat("cluster.up.upstream_flow_control_resumed_reading_total");
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(64 << 10);
      s.connect(new InetSocketAddress("127.0.0.1", legate.port("edge")), 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET /size/" + size + " HTTP/1.1\r\nHost: a\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      byte[] buf = new byte[64 << 10];
      long read = 0;
      while (read < (1 << 20)) {
        read += in.read(buf);
      }
      // Stall: a proxy without flow control would now pull the whole body from the upstream.
      Thread.sleep(1500);
      long pulled = legate.stat("cluster.up.upstream_cx_rx_bytes_total") - before;
      System.out.printf("slow reader: %d KiB taken from the upstream after the client read 1 MiB of %d MiB%n", pulled >> 10, size >> 20);
      assertThat(pulled)
          .as("bytes taken from the upstream while the client stalls (bounded by socket buffers and the 1 MiB connection buffer limit)")
          .isLessThan(12L << 20);
      assertThat(legate.stat("cluster.up.upstream_flow_control_paused_reading_total") - pausedBefore)
          .as("the router paused reading the upstream while the client stalled")
          .isPositive();
      // Then read everything: nothing was lost.
      int n;
      while (read < size && (n = in.read(buf)) > 0) {
        read += n;
      }
      assertThat(read).isGreaterThanOrEqualTo(size);
    }
    long paused = legate.stat("cluster.up.upstream_flow_control_paused_reading_total") - pausedBefore;
    assertThat(legate.stat("cluster.up.upstream_flow_control_resumed_reading_total") - resumedBefore)
        .as("every pause was resumed once the client read on")
        .isEqualTo(paused);
  }

  @Test
  void aValidRequestAfterTheCorpusStillWorks() {
    Exchange e = exchange("GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assertThat(e.response()).startsWith("HTTP/1.1 200 OK\r\n");
  }
}

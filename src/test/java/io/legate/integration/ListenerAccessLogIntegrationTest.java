package io.legate.integration;

import static io.legate.integration.AccessLogIntegrationTest.waitForLines;
import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Listener {@code access_log}: one entry per downstream connection when it closes, with what the
 * connection's TCP proxy recorded, and for connections refused for want of a filter chain (NR).
 */
class ListenerAccessLogIntegrationTest {
  @TempDir Path dir;

  static final String FORMAT =
      "%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS%"
          + " %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_HOST%\\n";

  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: tcp
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${TCP_LOG}
              log_format: { text_format_source: { inline_string: "${FORMAT}" } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp_stats
                cluster: up
        - name: picky
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          stat_prefix: picky
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${PICKY_LOG}
              log_format: { text_format_source: { inline_string: "${FORMAT}" } }
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${PICKY_DEFAULT_LOG}
          filter_chains:
          - filter_chain_match:
              source_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]
            filters:
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: picky_stats
                cluster: up
        - name: http
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          access_log:
          - name: envoy.access_loggers.file
            filter:
              not_health_check_filter: {}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${HTTP_LOG}
              log_format: { text_format_source: { inline_string: "listener %CONNECTION_ID% %PROTOCOL% %BYTES_RECEIVED%\\n" } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: front
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${HTTP_LOG}
                    log_format: { text_format_source: { inline_string: "stream %CONNECTION_ID% %PROTOCOL% %RESPONSE_CODE%\\n" } }
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

  /** What a raw connection saw: its own local port and every byte read until the peer closed. */
  record Exchange(int clientPort, String response) {}

  static Exchange exchange(int port, String request) throws Exception {
    return exchange(port, request, null);
  }

  /** Reads until the peer closes, or until what was read ends with {@code until} (then closes). */
  static Exchange exchange(int port, String request, String until) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      int n;
      try {
        while ((n = in.read(buf)) > 0) {
          out.write(buf, 0, n);
          if (until != null && out.toString(StandardCharsets.ISO_8859_1).endsWith(until)) {
            break;
          }
        }
      } catch (java.net.SocketException e) {
        // a reset after the bytes that arrived
      }
      return new Exchange(s.getLocalPort(), out.toString(StandardCharsets.ISO_8859_1));
    }
  }

  private Legate start(TestUpstream up) {
    return Legate.start(
        CONFIG,
        Map.of(
            "UP", up.port(),
            "FORMAT", FORMAT,
            "TCP_LOG", dir.resolve("tcp.log"),
            "PICKY_LOG", dir.resolve("picky.log"),
            "PICKY_DEFAULT_LOG", dir.resolve("picky-default.log"),
            "HTTP_LOG", dir.resolve("http.log")));
  }

  @Test
  void logsEachTcpProxyConnectionAtClose() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up)) {
      String request = "GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n";
      Exchange e = exchange(l.port("tcp"), request, "\r\n\r\n");
      assertThat(e.response()).startsWith("HTTP/1.1 204");
      List<String> lines = waitForLines(dir.resolve("tcp.log"), 1);
      assertThat(lines)
          .containsExactly(
              "127.0.0.1:" + e.clientPort() + " 127.0.0.1:" + l.port("tcp") + " - 0 - - " + request.length() + " "
                  + e.response().length() + " 127.0.0.1:" + up.port());
    }
  }

  @Test
  void logsConnectionsWithoutMatchingFilterChainAsNr() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up)) {
      Exchange e = exchange(l.port("picky"), "hello");
      assertThat(e.response()).isEmpty();
      assertThat(waitForLines(dir.resolve("picky.log"), 1))
          .containsExactly(
              "127.0.0.1:" + e.clientPort() + " 127.0.0.1:" + l.port("picky") + " - 0 NR filter_chain_not_found 0 0 -");
      // Envoy's default format, on a connection that never had a request.
      assertThat(waitForLines(dir.resolve("picky-default.log"), 1))
          .singleElement()
          .satisfies(line -> assertThat(line)
              .matches("\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] \"- - -\" 0 NR 0 0 \\d+ - \"-\" \"-\" \"-\" \"-\" \"-\""));
      assertThat(l.stat("listener.picky.no_filter_chain_match")).isEqualTo(1);
    }
  }

  @Test
  void listenerAndStreamEntriesShareTheConnectionId() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up)) {
      String two = "GET /status/200 HTTP/1.1\r\nHost: a\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
      exchange(l.port("http"), two);
      exchange(l.port("http"), "GET /status/202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      List<String> lines = waitForLines(dir.resolve("http.log"), 5);
      assertThat(lines).hasSize(5);
      // The second connection may open before the first one's entry is written: find the ids by
      // the stream entries.
      String first = idOf(lines, "200");
      String second = idOf(lines, "202");
      assertThat(Long.parseLong(second)).isGreaterThan(Long.parseLong(first));
      // HTTP streams do not add to the connection's byte counts (as Envoy's connection stream info).
      assertThat(lines)
          .containsExactlyInAnyOrder(
              "stream " + first + " HTTP/1.1 200",
              "stream " + first + " HTTP/1.1 201",
              "listener " + first + " - 0",
              "stream " + second + " HTTP/1.1 202",
              "listener " + second + " - 0");
    }
  }

  private static String idOf(List<String> lines, String code) {
    return lines.stream()
        .filter(x -> x.startsWith("stream ") && x.endsWith(" " + code))
        .map(x -> x.split(" ")[1])
        .findFirst()
        .orElseThrow(() -> new AssertionError("no stream entry for " + code + " in " + lines));
  }
}

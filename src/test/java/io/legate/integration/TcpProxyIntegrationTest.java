package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The TCP proxy network filter: bytes relayed both ways, HTTP/1 and HTTP/2 alike, with back-pressure. */
class TcpProxyIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: tcp
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp_stats
                cluster: up
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${LOG}
                    log_format: { text_format_source: { inline_string: "%UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_REMOTE_ADDRESS% %CONNECTION_ID%\\n" } }
        - name: dead
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: dead_stats
                cluster: empty
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${LOG}
                    log_format: { text_format_source: { inline_string: "%UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS%\\n" } }
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: empty
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: empty }
      """;

  @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir;

  @Test
  void relaysBytesBothWays() throws Exception {
    java.nio.file.Path log = dir.resolve("tcp.log");
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "LOG", log))) {
      String request = "GET /echo/tcp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
      String resp = l.raw("tcp", request, 5000);
      assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n").contains("GET /echo/tcp HTTP/1.1\n").contains("x-upstream: up");
      // HTTP/2 prior knowledge passes through untouched: the upstream speaks it.
      try (H2Client c = new H2Client(l.port("tcp"))) {
        assertThat(c.get("/echo/h2").body()).startsWith("GET /echo/h2 HTTP/2\n");
      }
      assertThat(l.stat("tcp.tcp_stats.downstream_cx_total")).isEqualTo(2);
      assertThat(l.stat("cluster.up.upstream_cx_total")).isEqualTo(2);
      // No healthy host: the connection is closed (a reset, when our bytes were still unread).
      String closed;
      try {
        closed = l.raw("dead", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 3000);
      } catch (RuntimeException e) {
        assertThat(e).hasRootCauseInstanceOf(java.net.SocketException.class);
        closed = "";
      }
      assertThat(closed).isEmpty();
      assertThat(l.stat("cluster.empty.upstream_cx_none_healthy")).isEqualTo(1);
      // One access log line per connection, written when it closes.
      java.util.List<String> lines = AccessLogIntegrationTest.waitForLines(log, 3);
      assertThat(lines.get(0)).matches("up 127\\.0\\.0\\.1:" + up.port() + " " + request.length() + " " + resp.length()
          + " - 127\\.0\\.0\\.1:\\d+ 127\\.0\\.0\\.1:" + up.port() + " \\d+");
      assertThat(lines).contains("empty - 0 0 UH");
    }
  }

  static final int SIZE = 32 << 20;

  /**
   * Back-pressure both ways, and Envoy's counters for it: a peer that stops reading makes the proxy
   * stop reading the other side ({@code tcp.<prefix>.downstream_flow_control_*} when the upstream
   * stalls, {@code cluster.<name>.upstream_flow_control_*} when the client does), and every byte
   * arrives once the stalled side reads again.
   */
  @Test
  void aStalledPeerPausesReadingTheOtherSideAndEveryByteArrivesAfterwards() throws Exception {
    try (ServerSocket server = new ServerSocket()) {
      server.setReceiveBufferSize(16 << 10);
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (Legate l = Legate.start(CONFIG, Map.of("UP", server.getLocalPort(), "LOG", dir.resolve("fc.log")));
          Socket client = new Socket()) {
        client.setReceiveBufferSize(16 << 10);
        client.connect(new InetSocketAddress("127.0.0.1", l.port("tcp")), 5000);
        client.setSoTimeout(30_000);
        try (Socket upstream = server.accept()) {
          upstream.setSoTimeout(30_000);

          // The upstream reads nothing while the client sends: the proxy stops reading the client.
          stallAndDrain(l, client, upstream, "tcp.tcp_stats.downstream_flow_control_");
          // The client reads nothing while the upstream sends: the proxy stops reading the upstream.
          stallAndDrain(l, upstream, client, "cluster.up.upstream_flow_control_");
        }
      }
    }
  }

  /**
   * {@code from} sends {@link #SIZE} bytes while {@code to} reads nothing: the proxy pauses reading
   * {@code from}'s side ({@code <stats>paused_reading_total} counts it) and the sender blocks; then
   * {@code to} reads every byte, the sender finishes, and every pause was resumed.
   */
  private static void stallAndDrain(Legate l, Socket from, Socket to, String stats) throws Exception {
    CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> write(from, SIZE));
    waitForStat(l, stats + "paused_reading_total");
    assertThat(sent).isNotDone();
    assertThat(read(to, SIZE)).isEqualTo(SIZE);
    sent.get(30, TimeUnit.SECONDS);
    assertThat(l.stat(stats + "resumed_reading_total"))
        .as("every pause resumed (" + stats + ")")
        .isEqualTo(l.stat(stats + "paused_reading_total"));
  }

  private static void waitForStat(Legate l, String name) throws InterruptedException {
    for (int i = 0; i < 100 && l.stat(name) == 0; i++) {
      Thread.sleep(50);
    }
    assertThat(l.stat(name)).as(name).isPositive();
  }

  private static void write(Socket s, int size) {
    try {
      OutputStream out = s.getOutputStream();
      byte[] chunk = new byte[64 << 10];
      for (int sent = 0; sent < size; sent += chunk.length) {
        out.write(chunk);
      }
      out.flush();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static long read(Socket s, int size) throws java.io.IOException {
    InputStream in = s.getInputStream();
    byte[] buf = new byte[64 << 10];
    long got = 0;
    int n;
    while (got < size && (n = in.read(buf)) > 0) {
      got += n;
    }
    return got;
  }
}

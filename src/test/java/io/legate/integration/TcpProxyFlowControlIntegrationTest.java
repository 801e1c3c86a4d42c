package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
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

/**
 * The TCP proxy's back-pressure, both ways, and Envoy's counters for it: a peer that stops reading
 * makes the proxy stop reading the other side (`tcp.<prefix>.downstream_flow_control_*` when the
 * upstream stalls, `cluster.<name>.upstream_flow_control_*` when the client does), and every byte
 * arrives once the stalled side reads again.
 */
class TcpProxyFlowControlIntegrationTest {
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
                stat_prefix: fc
                cluster: up
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

  static final int SIZE = 32 << 20;

  @Test
  void aStalledPeerPausesReadingTheOtherSideAndEveryByteArrivesAfterwards() throws Exception {
    try (ServerSocket server = new ServerSocket()) {
      server.setReceiveBufferSize(16 << 10);
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (Legate l = Legate.start(CONFIG, Map.of("UP", server.getLocalPort()));
          Socket client = new Socket()) {
        client.setReceiveBufferSize(16 << 10);
        client.connect(new InetSocketAddress("127.0.0.1", l.port("tcp")), 5000);
        client.setSoTimeout(30_000);
        try (Socket upstream = server.accept()) {
          upstream.setSoTimeout(30_000);

          // The upstream reads nothing while the client sends: the proxy stops reading the client.
          CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> write(client, SIZE));
          waitForStat(l, "tcp.fc.downstream_flow_control_paused_reading_total");
          assertThat(sent).isNotDone();
          assertThat(read(upstream, SIZE)).isEqualTo(SIZE);
          sent.get(30, TimeUnit.SECONDS);
          assertThat(l.stat("tcp.fc.downstream_flow_control_resumed_reading_total"))
              .as("every pause of the client's side resumed")
              .isEqualTo(l.stat("tcp.fc.downstream_flow_control_paused_reading_total"));

          // The client reads nothing while the upstream sends: the proxy stops reading the upstream.
          CompletableFuture<Void> answered = CompletableFuture.runAsync(() -> write(upstream, SIZE));
          waitForStat(l, "cluster.up.upstream_flow_control_paused_reading_total");
          assertThat(answered).isNotDone();
          assertThat(read(client, SIZE)).isEqualTo(SIZE);
          answered.get(30, TimeUnit.SECONDS);
          assertThat(l.stat("cluster.up.upstream_flow_control_resumed_reading_total"))
              .as("every pause of the upstream's side resumed")
              .isEqualTo(l.stat("cluster.up.upstream_flow_control_paused_reading_total"));
        }
      }
    }
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

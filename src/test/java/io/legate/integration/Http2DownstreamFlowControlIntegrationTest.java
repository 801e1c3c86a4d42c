package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 downstream flow control: request bodies larger than every window arrive whole, a paused
 * upstream stops the client through the HTTP/2 windows (no WINDOW_UPDATE while the stream's reading
 * is paused), and many streams share one connection's send window.
 */
class Http2DownstreamFlowControlIntegrationTest {
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
                codec_type: HTTP2
                http2_protocol_options:
                  initial_stream_window_size: 65535
                  initial_connection_window_size: 131072
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/h2/" }
                      route: { cluster: backend_h2, timeout: 60s, prefix_rewrite: "/" }
                    - match: { prefix: "/" }
                      route: { cluster: backend, timeout: 60s }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: backend
          type: STATIC
          connect_timeout: 1s
          per_connection_buffer_limit_bytes: 32768
          load_assignment:
            cluster_name: backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: backend_h2
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config:
                http2_protocol_options:
                  max_concurrent_streams: 5
                  initial_stream_window_size: 65535
                  initial_connection_window_size: 65535
          load_assignment:
            cluster_name: backend_h2
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${H2UP} } } }
      """;

  /**
   * An HTTP/1.1 upstream that accepts, reads nothing until released, then reads one request with a
   * content-length body and answers with the body's length and CRC32.
   */
  static final class PausedUpstream implements AutoCloseable {
    final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final CountDownLatch release = new CountDownLatch(1);
    final Thread thread;

    PausedUpstream() throws Exception {
      server.setReceiveBufferSize(16 * 1024);
      thread = new Thread(this::serve, "paused-upstream");
      thread.setDaemon(true);
      thread.start();
    }

    private void serve() {
      try (Socket s = server.accept()) {
        release.await();
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
          int b = in.read();
          if (b < 0) {
            return;
          }
          head.write(b);
        }
        long length = -1;
        for (String line : head.toString(StandardCharsets.ISO_8859_1).split("\r\n")) {
          if (line.toLowerCase().startsWith("content-length:")) {
            length = Long.parseLong(line.substring(15).trim());
          }
        }
        CRC32 crc = new CRC32();
        byte[] buf = new byte[65536];
        long got = 0;
        while (got < length) {
          int n = in.read(buf, 0, (int) Math.min(buf.length, length - got));
          if (n < 0) {
            break;
          }
          crc.update(buf, 0, n);
          got += n;
        }
        String body = got + " " + crc.getValue();
        OutputStream out = s.getOutputStream();
        out.write(("HTTP/1.1 200 OK\r\ncontent-length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        Thread.sleep(200);
      } catch (Exception e) {
        // the test fails on the response it does not get
      }
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws Exception {
      release.countDown();
      server.close();
    }
  }

  @Test
  void pausedUpstreamHoldsTheClientBackThroughTheWindowsThenTheWholeBodyArrives() throws Exception {
    byte[] body = new byte[48 << 20];
    new java.util.Random(7).nextBytes(body);
    CRC32 crc = new CRC32();
    crc.update(body);
    try (PausedUpstream up = new PausedUpstream();
        Legate legate = Legate.start(CONFIG, Map.of("UP", up.port(), "H2UP", up.port()));
        H2Client client = new H2Client(legate.port("front"))) {
      CompletableFuture<H2Client.Response> response =
          CompletableFuture.supplyAsync(
              () ->
                  client.send(
                      "POST", "/upload", "localhost", body, new DefaultHttp2Headers().add("content-length", String.valueOf(body.length)), null, 60));
      // While the upstream reads nothing, what Legate takes from the client is bounded by the
      // socket buffers, the cluster's buffer limit and the HTTP/2 windows, not the body's size.
      long before = -1;
      for (int i = 0; i < 30; i++) {
        Thread.sleep(100);
        long now = legate.stat("http.front.downstream_cx_rx_bytes_total");
        if (now == before && now > 0) {
          break; // stalled
        }
        before = now;
      }
      Thread.sleep(500);
      long stalled = legate.stat("http.front.downstream_cx_rx_bytes_total");
      assertThat(stalled).as("request bytes taken while the upstream is paused").isGreaterThan(0).isLessThan(24L << 20);
      Thread.sleep(500);
      assertThat(legate.stat("http.front.downstream_cx_rx_bytes_total")).as("still stalled").isEqualTo(stalled);
      assertThat(response).isNotDone();
      long backedUp = legate.stat("cluster.backend.upstream_flow_control_backed_up_total");
      assertThat(backedUp).as("the upstream connection backed up").isPositive();
      assertThat(backedUp - legate.stat("cluster.backend.upstream_flow_control_drained_total"))
          .as("and is still backed up")
          .isEqualTo(1);

      up.release.countDown();
      H2Client.Response r = response.get(60, TimeUnit.SECONDS);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo(body.length + " " + crc.getValue());
      assertThat(legate.stat("cluster.backend.upstream_flow_control_drained_total"))
          .as("drained once the upstream read")
          .isEqualTo(legate.stat("cluster.backend.upstream_flow_control_backed_up_total"));
    }
  }

  @Test
  void http2UpstreamCarriesManyStreamsBeyondItsConcurrencyAndWindows() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        Legate legate = Legate.start(CONFIG, Map.of("UP", up.port(), "H2UP", up.port()));
        H2Client client = new H2Client(legate.port("front"))) {
      // 30 streams over connections of at most 5 streams each, each response larger than the windows.
      List<CompletableFuture<H2Client.Response>> all = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        int size = 150_000 + i * 1_000;
        all.add(CompletableFuture.supplyAsync(() -> client.send("GET", "/h2/size/" + size, "localhost", (byte[]) null, null, null, 60)));
      }
      for (int i = 0; i < all.size(); i++) {
        H2Client.Response r = all.get(i).get(60, TimeUnit.SECONDS);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyBytes()).hasSize(150_000 + i * 1_000);
      }
      // uploads larger than the upstream's windows arrive whole, request trailers included
      List<CompletableFuture<H2Client.Response>> posts = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        byte[] b = ("up" + i + "-").repeat(80_000).getBytes(StandardCharsets.US_ASCII);
        posts.add(CompletableFuture.supplyAsync(() -> client.send("POST", "/h2/echo/" + b.length, "localhost", b, null, null, 60)));
      }
      for (int i = 0; i < posts.size(); i++) {
        H2Client.Response r = posts.get(i).get(60, TimeUnit.SECONDS);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).startsWith("POST /echo/").contains(" HTTP/2\n").endsWith("\n\n" + ("up" + i + "-").repeat(80_000));
      }
      // at most 5 streams per connection: never more connections than 30 concurrent streams need
      assertThat(legate.stat("cluster.backend_h2.upstream_cx_http2_total")).isBetween(1L, 6L);
      assertThat(legate.stat("cluster.backend_h2.upstream_rq_2xx")).isEqualTo(36);
    }
  }

  @Test
  void manyStreamsShareTheSendWindowAndEachGetsItsWholeBody() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        Legate legate = Legate.start(CONFIG, Map.of("UP", up.port(), "H2UP", up.port()));
        H2Client client = new H2Client(legate.port("front"))) {
      List<CompletableFuture<H2Client.Response>> all = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        int size = 100_000 + i * 1_000;
        all.add(CompletableFuture.supplyAsync(() -> client.send("GET", "/size/" + size, "localhost", (byte[]) null, null, null, 60)));
      }
      for (int i = 0; i < all.size(); i++) {
        H2Client.Response r = all.get(i).get(60, TimeUnit.SECONDS);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyBytes()).hasSize(100_000 + i * 1_000);
      }
      // and uploads larger than the stream and connection windows, several at once
      List<CompletableFuture<H2Client.Response>> posts = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        byte[] b = ("part" + i + "-").repeat(100_000).getBytes(StandardCharsets.US_ASCII);
        posts.add(CompletableFuture.supplyAsync(() -> client.send("POST", "/echo", "localhost", b, null, null, 60)));
      }
      for (int i = 0; i < posts.size(); i++) {
        H2Client.Response r = posts.get(i).get(60, TimeUnit.SECONDS);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith("\n\n" + ("part" + i + "-").repeat(100_000));
      }
    }
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 attacks from a hand-framed client: rapid reset (CVE-2023-44487), empty-frame floods and
 * a client that never reads its PING acks. Each loses its connection; the proxy keeps serving.
 */
class Http2FloodIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: h2
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: h2
                codec_type: HTTP2
                http2_protocol_options: { max_outbound_control_frames: 100 }
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
        - name: h2big
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: h2big
                codec_type: HTTP2
                http2_protocol_options: { max_outbound_frames: 100, max_outbound_control_frames: 100000,
                                          max_inbound_priority_frames_per_stream: 2 }
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

  static volatile long floodBefore;
  static volatile String floodStat = "http2.outbound_control_flood";
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

  static final int DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7,
      WINDOW_UPDATE = 8;

  static void frame(ByteArrayOutputStream out, int type, int flags, int stream, byte[] payload) {
    out.write(payload.length >>> 16);
    out.write(payload.length >>> 8);
    out.write(payload.length);
    out.write(type);
    out.write(flags);
    out.write(stream >>> 24);
    out.write(stream >>> 16);
    out.write(stream >>> 8);
    out.write(stream);
    out.writeBytes(payload);
  }

  static byte[] headerBlock(String path) throws Exception {
    Http2Headers h = new DefaultHttp2Headers().method("GET").scheme("http").authority("a").path(path);
    ByteBuf buf = Unpooled.buffer();
    try {
      new DefaultHttp2HeadersEncoder().encodeHeaders(1, h, buf);
      byte[] b = new byte[buf.readableBytes()];
      buf.readBytes(b);
      return b;
    } finally {
      buf.release();
    }
  }

  static ByteArrayOutputStream preface() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(Http2CodecUtil.connectionPrefaceBuf().toString(java.nio.charset.StandardCharsets.US_ASCII).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    frame(out, SETTINGS, 0, 0, new byte[0]);
    return out;
  }

  /** Sends the bytes and reads until the proxy closes the connection; returns the frame types received. */
  static java.util.List<Integer> attack(byte[] bytes, boolean read) throws Exception {
    return attack("h2", bytes, read);
  }

  static java.util.List<Integer> attack(String listener, byte[] bytes, boolean read) throws Exception {
    java.util.List<Integer> types = new java.util.ArrayList<>();
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", legate.port(listener)), 5000);
      s.setSoTimeout(5000);
      if (!read) {
        s.setReceiveBufferSize(4096);
      }
      OutputStream out = s.getOutputStream();
      try {
        out.write(bytes);
        out.flush();
      } catch (IOException e) {
        // closed by the proxy while writing: what matters is the verdict below
      }
      if (!read) {
        // Never read the acks: wait (bounded) for the proxy's verdict, then give up the socket.
        long deadline = System.currentTimeMillis() + 10_000;
        while (legate.stat(floodStat) == floodBefore && System.currentTimeMillis() < deadline) {
          Thread.sleep(20);
        }
        return types;
      }
      InputStream in = s.getInputStream();
      byte[] head = new byte[9];
      try {
        while (true) {
          if (in.readNBytes(head, 0, 9) < 9) {
            break;
          }
          int len = ((head[0] & 0xff) << 16) | ((head[1] & 0xff) << 8) | (head[2] & 0xff);
          types.add(head[3] & 0xff);
          in.skipNBytes(len);
        }
      } catch (SocketTimeoutException e) {
        types.add(-1); // still open
      } catch (IOException e) {
        // reset by the proxy
      }
    }
    return types;
  }

  @Test
  void rapidResetClosesTheConnection() throws Exception {
    long before = legate.stat("http.h2.downstream_rq_too_many_premature_resets");
    ByteArrayOutputStream out = preface();
    byte[] block = headerBlock("/delay/1000");
    for (int i = 0; i < 400; i++) {
      int id = 1 + 2 * i;
      frame(out, HEADERS, 0x4 | 0x1, id, block); // END_HEADERS | END_STREAM
      frame(out, RST_STREAM, 0, id, new byte[] {0, 0, 0, 8}); // CANCEL
    }
    java.util.List<Integer> types = attack(out.toByteArray(), true);
    assertThat(types).doesNotContain(-1);
    assertThat(legate.stat("http.h2.downstream_rq_too_many_premature_resets")).isEqualTo(before + 1);
    assertThat(legate.stat("http2.rx_reset")).isGreaterThanOrEqualTo(250);
  }

  @Test
  void completedStreamsDoNotCountAsPremature() throws Exception {
    // 300 requests that get their answers, then 100 cancelled ones: fewer than half premature.
    try (io.legate.testing.H2Client c = new io.legate.testing.H2Client(legate.port("h2"))) {
      for (int i = 0; i < 300; i++) {
        assertThat(c.get("/status/200").status()).isEqualTo(200);
      }
    }
    long before = legate.stat("http.h2.downstream_rq_too_many_premature_resets");
    ByteArrayOutputStream out = preface();
    byte[] block = headerBlock("/delay/1000");
    for (int i = 0; i < 100; i++) {
      int id = 1 + 2 * i;
      frame(out, HEADERS, 0x4 | 0x1, id, block);
      frame(out, RST_STREAM, 0, id, new byte[] {0, 0, 0, 8});
    }
    assertThat(attack(out.toByteArray(), true)).contains(-1); // 100 of 500: the connection stays
    assertThat(legate.stat("http.h2.downstream_rq_too_many_premature_resets")).isEqualTo(before);
  }

  @Test
  void emptyDataFramesFloodClosesWithEnhanceYourCalm() throws Exception {
    long before = legate.stat("http2.inbound_empty_frames_flood");
    ByteArrayOutputStream out = preface();
    frame(out, HEADERS, 0x4, 1, headerBlock("/"));
    for (int i = 0; i < 10; i++) {
      frame(out, DATA, 0, 1, new byte[0]);
    }
    java.util.List<Integer> types = attack(out.toByteArray(), true);
    assertThat(types).contains(GOAWAY).doesNotContain(-1);
    assertThat(legate.stat("http2.inbound_empty_frames_flood")).isEqualTo(before + 1);
  }

  @Test
  void pingFloodFromAClientThatDoesNotReadIsCut() throws Exception {
    long before = legate.stat("http2.outbound_control_flood");
    floodBefore = before;
    floodStat = "http2.outbound_control_flood";
    ByteArrayOutputStream out = preface();
    byte[] eight = new byte[8];
    for (int i = 0; i < 1_000_000; i++) {
      frame(out, PING, 0, 0, eight);
    }
    attack(out.toByteArray(), false);
    assertThat(legate.stat("http2.outbound_control_flood")).isEqualTo(before + 1);
  }

  @Test
  void outboundFramesBeyondMaxOutboundFramesCloseTheConnection() throws Exception {
    // The control-frame limit is far away on this listener: the total frame limit (100) cuts first.
    long control = legate.stat("http2.outbound_control_flood");
    long before = legate.stat("http2.outbound_flood");
    floodBefore = before;
    floodStat = "http2.outbound_flood";
    ByteArrayOutputStream out = preface();
    byte[] eight = new byte[8];
    for (int i = 0; i < 1_000_000; i++) {
      frame(out, PING, 0, 0, eight);
    }
    attack("h2big", out.toByteArray(), false);
    assertThat(legate.stat("http2.outbound_flood")).isEqualTo(before + 1);
    assertThat(legate.stat("http2.outbound_control_flood")).isEqualTo(control);
  }

  @Test
  void priorityFloodClosesWithEnhanceYourCalm() throws Exception {
    // Two PRIORITY frames per opened stream (one stream): the fifth is one too many.
    long before = legate.stat("http2.inbound_priority_frames_flood");
    ByteArrayOutputStream ok = preface();
    frame(ok, HEADERS, 0x4 | 0x1, 1, headerBlock("/"));
    for (int i = 0; i < 4; i++) {
      frame(ok, PRIORITY, 0, 1, new byte[] {0, 0, 0, 0, 15});
    }
    assertThat(attack("h2big", ok.toByteArray(), true)).contains(-1).doesNotContain(GOAWAY);
    ByteArrayOutputStream out = preface();
    frame(out, HEADERS, 0x4 | 0x1, 1, headerBlock("/"));
    for (int i = 0; i < 5; i++) {
      frame(out, PRIORITY, 0, 1, new byte[] {0, 0, 0, 0, 15});
    }
    assertThat(attack("h2big", out.toByteArray(), true)).contains(GOAWAY).doesNotContain(-1);
    assertThat(legate.stat("http2.inbound_priority_frames_flood")).isEqualTo(before + 1);
  }

  @Test
  void windowUpdateFloodClosesWithEnhanceYourCalm() throws Exception {
    // Nothing sent yet and no stream: 5 WINDOW_UPDATEs are allowed, the sixth floods.
    long before = legate.stat("http2.inbound_window_update_frames_flood");
    ByteArrayOutputStream ok = preface();
    for (int i = 0; i < 5; i++) {
      frame(ok, WINDOW_UPDATE, 0, 0, new byte[] {0, 0, 0, 1});
    }
    assertThat(attack(ok.toByteArray(), true)).contains(-1).doesNotContain(GOAWAY);
    ByteArrayOutputStream out = preface();
    for (int i = 0; i < 100; i++) {
      frame(out, WINDOW_UPDATE, 0, 0, new byte[] {0, 0, 0, 1});
    }
    assertThat(attack(out.toByteArray(), true)).contains(GOAWAY).doesNotContain(-1);
    assertThat(legate.stat("http2.inbound_window_update_frames_flood")).isEqualTo(before + 1);
  }

  @Test
  void theProxyStillServesAfterTheAttacks() {
    try (io.legate.testing.H2Client c = new io.legate.testing.H2Client(legate.port("h2"))) {
      assertThat(c.get("/ok").status()).isEqualTo(200);
    }
  }
}

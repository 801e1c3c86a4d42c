package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * HTTP upgrades: WebSocket through the proxy (a real Netty WebSocket server upstream, the JDK's
 * WebSocket client downstream), a raw byte tunnel after a 101, refused upgrades, non-101 answers,
 * CONNECT terminated at the proxy, and the stream idle timeout on a tunnel.
 */
class UpgradeIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: web
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: web
                upgrade_configs:
                - upgrade_type: WebSocket
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/ws" }
                      route: { cluster: ws }
                    - match: { prefix: "/nows" }
                      route:
                        cluster: ws
                        upgrade_configs: [ { upgrade_type: websocket, enabled: false } ]
                    - match: { prefix: "/raw" }
                      route:
                        cluster: raw
                        upgrade_configs: [ { upgrade_type: echo } ]
                    - match: { prefix: "/refuse" }
                      route:
                        cluster: raw
                        upgrade_configs: [ { upgrade_type: echo } ]
                    - match: { prefix: "/other" }
                      route: { cluster: raw }
                    - match: { connect_matcher: {}, headers: [ { name: x-forward, present_match: true } ] }
                      route:
                        cluster: raw
                        upgrade_configs: [ { upgrade_type: CONNECT } ]
                    - match: { connect_matcher: {} }
                      route:
                        cluster: tcp
                        upgrade_configs: [ { upgrade_type: CONNECT, connect_config: {} } ]
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        - name: h2
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: h2
                http2_protocol_options: { allow_connect: true }
                upgrade_configs: [ { upgrade_type: websocket } ]
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/ws" }
                      route: { cluster: ws }
                    - match: { connect_matcher: {} }
                      route:
                        cluster: tcp
                        upgrade_configs: [ { upgrade_type: CONNECT, connect_config: {} } ]
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        - name: idle
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: idle
                stream_idle_timeout: 0.3s
                upgrade_configs: [ { upgrade_type: echo } ]
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: raw }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        clusters:
        - name: ws
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: ws
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${WS} } } }
        - name: raw
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: raw
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${RAW} } } }
        - name: tcp
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: tcp
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${TCP} } } }
      """;

  @Test
  void webSocketThroughTheProxy() throws Exception {
    try (WsServer ws = new WsServer();
        RawServer raw = new RawServer(false);
        RawServer tcp = new RawServer(true);
        Legate l = Legate.start(CONFIG, Map.of("WS", ws.port(), "RAW", raw.port, "TCP", tcp.port))) {
      LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
      CompletableFuture<Integer> closed = new CompletableFuture<>();
      WebSocket.Listener listener =
          new WebSocket.Listener() {
            StringBuilder text = new StringBuilder();
            ByteArrayOutputStream bin = new ByteArrayOutputStream();

            @Override
            public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
              text.append(data);
              if (last) {
                got.add(text.toString());
                text = new StringBuilder();
              }
              w.request(1);
              return null;
            }

            @Override
            public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
              byte[] b = new byte[data.remaining()];
              data.get(b);
              bin.writeBytes(b);
              if (last) {
                got.add(bin.toByteArray());
                bin = new ByteArrayOutputStream();
              }
              w.request(1);
              return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket w, int status, String reason) {
              closed.complete(status);
              return null;
            }

            @Override
            public void onError(WebSocket w, Throwable error) {
              closed.completeExceptionally(error);
            }
          };
      WebSocket w =
          HttpClient.newHttpClient()
              .newWebSocketBuilder()
              .buildAsync(URI.create("ws://127.0.0.1:" + l.port("web") + "/ws"), listener)
              .get(10, TimeUnit.SECONDS);
      assertThat(l.stat("http.web.downstream_cx_upgrades_total")).isEqualTo(1);
      assertThat(l.stat("http.web.downstream_cx_upgrades_active")).isEqualTo(1);

      w.sendText("hello", true).get(5, TimeUnit.SECONDS);
      assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo("echo:hello");
      byte[] big = new byte[200_000]; // larger than any one read: flows in pieces both ways
      for (int i = 0; i < big.length; i++) {
        big[i] = (byte) (i * 31);
      }
      w.sendBinary(ByteBuffer.wrap(big), true).get(5, TimeUnit.SECONDS);
      assertThat((byte[]) got.poll(10, TimeUnit.SECONDS)).isEqualTo(big);
      // The server speaks first too: it pushes a text frame after each binary one.
      assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo("pushed");

      w.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
      assertThat(closed.get(10, TimeUnit.SECONDS)).isEqualTo(WebSocket.NORMAL_CLOSURE);
      await(() -> l.stat("http.web.downstream_cx_upgrades_active"), 0);
      await(() -> l.stat("cluster.ws.upstream_cx_active"), 0);
      assertThat(l.stat("cluster.ws.upstream_cx_total")).isEqualTo(1);
      assertThat(ws.upgradeHeaders.poll(1, TimeUnit.SECONDS)).isEqualTo("websocket");
    }
  }

  @Test
  void rawTunnelRefusalsAndConnect() throws Exception {
    try (WsServer ws = new WsServer();
        RawServer raw = new RawServer(false);
        RawServer tcp = new RawServer(true);
        Legate l = Legate.start(CONFIG, Map.of("WS", ws.port(), "RAW", raw.port, "TCP", tcp.port))) {
      int port = l.port("web");
      // A 101 from the upstream makes a byte tunnel: what follows is echoed, unframed.
      try (Conn c = new Conn(port)) {
        c.write("GET /raw HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: Echo\r\n\r\n");
        String head = c.readHead();
        assertThat(head).startsWith("HTTP/1.1 101 ").containsIgnoringCase("upgrade: Echo").containsIgnoringCase("connection: upgrade");
        assertThat(raw.requests.poll(5, TimeUnit.SECONDS))
            .startsWith("GET /raw HTTP/1.1")
            .containsIgnoringCase("upgrade: Echo")
            .containsIgnoringCase("connection: upgrade");
        c.write("ping\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assertThat(c.read("ping\r\n\r\nGET / HTTP/1.1\r\n\r\n".length())).isEqualTo("ping\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        c.write("more");
        assertThat(c.read(4)).isEqualTo("more");
        assertThat(l.stat("http.web.downstream_cx_upgrades_active")).isEqualTo(1);
      }
      await(() -> l.stat("cluster.raw.upstream_cx_active"), 0);
      await(() -> l.stat("http.web.downstream_cx_upgrades_active"), 0);

      // The upstream closing its side ends the tunnel: the client sees the last bytes, then EOF.
      try (Conn c = new Conn(port)) {
        c.write("GET /raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
        assertThat(c.readHead()).startsWith("HTTP/1.1 101 ");
        c.write("bye");
        assertThat(c.read(3)).isEqualTo("bye");
        c.write("quit");
        assertThat(c.read(4)).isEqualTo("quit");
        assertThat(c.readToEnd()).isEmpty();
      }

      // A non-101 answer is an ordinary response; the connection then closes (the upgrade
      // request has no end), and the upstream connection is not kept.
      try (Conn c = new Conn(port)) {
        c.write("GET /refuse HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
        String all = c.readToEnd();
        assertThat(all).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nno");
        assertThat(all.toLowerCase()).contains("connection: close");
      }
      await(() -> l.stat("cluster.raw.upstream_cx_active"), 0);

      // Upgrades nobody enabled (the route disables it, or nothing configures it): 403.
      String r = l.raw("web", "GET /nows HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 5000);
      assertThat(r).startsWith("HTTP/1.1 403 Forbidden\r\n");
      r = l.raw("web", "GET /other HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", 5000);
      assertThat(r).startsWith("HTTP/1.1 403 Forbidden\r\n");
      assertThat(l.stat("http.web.downstream_rq_ws_on_non_ws_route")).isEqualTo(2);
      // An upgrade header without Connection: upgrade is no upgrade: the request goes on, stripped.
      raw.requests.clear();
      r = l.raw("web", "GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: close\r\n\r\n", 5000);
      assertThat(r).startsWith("HTTP/1.1 200 OK\r\n").endsWith("plain");
      assertThat(raw.requests.poll(5, TimeUnit.SECONDS)).doesNotContainIgnoringCase("upgrade");

      // CONNECT terminated here: 200 at once, then the payload goes to the cluster over TCP.
      try (Conn c = new Conn(port)) {
        c.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        String head = c.readHead();
        assertThat(head).startsWith("HTTP/1.1 200 OK\r\n").doesNotContainIgnoringCase("content-length").doesNotContainIgnoringCase("transfer-encoding");
        c.write("\u0016\u0003\u0001 not really TLS");
        assertThat(c.read(" not really TLS".length() + 3)).isEqualTo("\u0016\u0003\u0001 not really TLS");
      }
      await(() -> l.stat("cluster.tcp.upstream_cx_active"), 0);
      assertThat(l.stat("cluster.tcp.upstream_cx_total")).isEqualTo(1);

      // CONNECT on a route without connect_config is forwarded to the upstream, which opens the
      // tunnel with its own 200.
      raw.requests.clear();
      try (Conn c = new Conn(port)) {
        c.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nx-forward: 1\r\n\r\n");
        assertThat(c.readHead()).startsWith("HTTP/1.1 200 OK\r\n"); // the reason phrase is the proxy's, as Envoy's
        assertThat(raw.requests.poll(5, TimeUnit.SECONDS)).startsWith("CONNECT example.com:443 HTTP/1.1\r\n");
        c.write("through");
        assertThat(c.read(7)).isEqualTo("through");
      }
      await(() -> l.stat("cluster.raw.upstream_cx_active"), 0);
      assertThat(tcp.requests).isEmpty(); // no HTTP reached the TCP upstream
      assertThat(l.stat("http.web.downstream_cx_upgrades_total")).isEqualTo(4);
    }
  }

  @Test
  void aSlowReaderPausesTheUpstreamOfATunnel() throws Exception {
    try (WsServer ws = new WsServer();
        RawServer raw = new RawServer(false);
        RawServer tcp = new RawServer(true);
        Legate l = Legate.start(CONFIG, Map.of("WS", ws.port(), "RAW", raw.port, "TCP", tcp.port))) {
      try (Socket s = new Socket()) {
        s.setReceiveBufferSize(64 << 10);
        s.connect(new InetSocketAddress("127.0.0.1", l.port("web")), 5000);
        s.setSoTimeout(10_000);
        s.getOutputStream().write("GET /raw/flood HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        InputStream in = s.getInputStream();
        assertThat(Conn.readHead(in)).startsWith("HTTP/1.1 101 ");
        byte[] buf = new byte[64 << 10];
        long read = 0;
        while (read < (1 << 20)) {
          read += in.read(buf);
        }
        // Stall: a tunnel without flow control would now pull everything from the upstream.
        Thread.sleep(1500);
        long pulled = l.stat("cluster.raw.upstream_cx_rx_bytes_total");
        System.out.printf("slow tunnel reader: %d KiB taken from the upstream after the client read 1 MiB of %d MiB%n", pulled >> 10, RawServer.FLOOD >> 20);
        assertThat(pulled)
            .as("bytes taken from the upstream while the client stalls (bounded by socket buffers and the connection buffer limit)")
            .isLessThan(12L << 20);
        // Then everything arrives, and the upstream's close ends the tunnel.
        int n;
        while ((n = in.read(buf)) > 0) {
          read += n;
        }
        assertThat(read).isEqualTo(RawServer.FLOOD);
      }
    }
  }

  @Test
  void streamIdleTimeoutClosesAQuietTunnel() throws Exception {
    try (WsServer ws = new WsServer();
        RawServer raw = new RawServer(false);
        RawServer tcp = new RawServer(true);
        Legate l = Legate.start(CONFIG, Map.of("WS", ws.port(), "RAW", raw.port, "TCP", tcp.port))) {
      try (Conn c = new Conn(l.port("idle"))) {
        c.write("GET /raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
        assertThat(c.readHead()).startsWith("HTTP/1.1 101 ");
        c.write("x");
        assertThat(c.read(1)).isEqualTo("x");
        assertThat(c.readToEnd()).isEmpty(); // closed by the proxy once quiet
      }
      assertThat(l.stat("http.idle.downstream_rq_idle_timeout")).isEqualTo(1);
      await(() -> l.stat("cluster.raw.upstream_cx_active"), 0);
    }
  }

  /**
   * WebSocket over HTTP/2 (RFC 8441): the client's extended CONNECT reaches the HTTP/1.1 upstream
   * as a GET upgrade, its 101 comes back as a 200, and WebSocket frames ride in DATA frames.
   */
  @Test
  void webSocketOverHttp2ExtendedConnect() throws Exception {
    try (WsServer ws = new WsServer();
        RawServer raw = new RawServer(false);
        RawServer tcp = new RawServer(true);
        Legate l = Legate.start(CONFIG, Map.of("WS", ws.port(), "RAW", raw.port, "TCP", tcp.port))) {
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
      try {
        CompletableFuture<Boolean> connectEnabled = new CompletableFuture<>();
        Channel conn =
            new io.netty.bootstrap.Bootstrap()
                .group(group)
                .channel(io.netty.channel.socket.nio.NioSocketChannel.class)
                .handler(
                    new ChannelInitializer<Channel>() {
                      @Override
                      protected void initChannel(Channel ch) {
                        ch.pipeline()
                            .addLast(io.netty.handler.codec.http2.Http2FrameCodecBuilder.forClient().build())
                            .addLast(
                                new io.netty.channel.ChannelInboundHandlerAdapter() {
                                  @Override
                                  public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    if (msg instanceof io.netty.handler.codec.http2.Http2SettingsFrame f) {
                                      connectEnabled.complete(Boolean.TRUE.equals(f.settings().connectProtocolEnabled()));
                                    }
                                    ctx.fireChannelRead(msg);
                                  }
                                })
                            .addLast(new io.netty.handler.codec.http2.Http2MultiplexHandler(new io.netty.channel.ChannelInboundHandlerAdapter()));
                      }
                    })
                .connect("127.0.0.1", l.port("h2"))
                .sync()
                .channel();
        assertThat(connectEnabled.get(5, TimeUnit.SECONDS)).isTrue();
        LinkedBlockingQueue<Object> in = new LinkedBlockingQueue<>();
        @io.netty.channel.ChannelHandler.Sharable
        class Collect extends io.netty.channel.ChannelInboundHandlerAdapter {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame f) {
              in.add(f.headers().status().toString());
            } else if (msg instanceof io.netty.handler.codec.http2.Http2DataFrame f) {
              byte[] b = new byte[f.content().readableBytes()];
              f.content().readBytes(b);
              f.release();
              in.add(b);
              if (f.isEndStream()) {
                in.add("end");
              }
            } else {
              io.netty.util.ReferenceCountUtil.release(msg);
            }
          }
        }
        Collect collect = new Collect();
        io.netty.handler.codec.http2.Http2StreamChannel stream =
            new io.netty.handler.codec.http2.Http2StreamChannelBootstrap(conn).handler(collect).open().sync().getNow();
        io.netty.handler.codec.http2.Http2Headers h =
            new io.netty.handler.codec.http2.DefaultHttp2Headers()
                .method("CONNECT")
                .path("/ws")
                .scheme("http")
                .authority("localhost");
        h.set(":protocol", "websocket");
        h.set("sec-websocket-version", "13");
        h.set("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(h, false)).sync();
        assertThat(in.poll(10, TimeUnit.SECONDS)).isEqualTo("200");
        assertThat(ws.upgradeHeaders.poll(5, TimeUnit.SECONDS)).isEqualTo("websocket");

        stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(Unpooled.wrappedBuffer(maskedFrame(0x1, "hi".getBytes(StandardCharsets.UTF_8))), false)).sync();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] expected = {(byte) 0x81, 7, 'e', 'c', 'h', 'o', ':', 'h', 'i'};
        while (got.size() < expected.length) {
          Object o = in.poll(10, TimeUnit.SECONDS);
          assertThat(o).isInstanceOf(byte[].class);
          got.writeBytes((byte[]) o);
        }
        assertThat(got.toByteArray()).isEqualTo(expected);
        assertThat(l.stat("http.h2.downstream_cx_upgrades_total")).isEqualTo(1);

        // Close handshake: the server answers with its close frame and ends the tunnel.
        stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(Unpooled.wrappedBuffer(maskedFrame(0x8, new byte[] {0x03, (byte) 0xe8})), false)).sync();
        got.reset();
        Object o;
        while ((o = in.poll(10, TimeUnit.SECONDS)) instanceof byte[] b) {
          got.writeBytes(b);
        }
        assertThat(o).isEqualTo("end");
        assertThat(got.toByteArray()).startsWith((byte) 0x88);
        await(() -> l.stat("http.h2.downstream_cx_upgrades_active"), 0);
        await(() -> l.stat("cluster.ws.upstream_cx_active"), 0);

        // A plain HTTP/2 CONNECT, terminated here: 200, then DATA frames carry the TCP payload;
        // the client's END_STREAM half-closes the upstream, whose close ends the response.
        in.clear();
        io.netty.handler.codec.http2.Http2StreamChannel tunnel =
            new io.netty.handler.codec.http2.Http2StreamChannelBootstrap(conn)
                .handler(collect)
                .open()
                .sync()
                .getNow();
        tunnel.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(
            new io.netty.handler.codec.http2.DefaultHttp2Headers().method("CONNECT").authority("example.com:443"), false)).sync();
        assertThat(in.poll(10, TimeUnit.SECONDS)).isEqualTo("200");
        tunnel.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(Unpooled.copiedBuffer("abc", StandardCharsets.UTF_8), true)).sync();
        got.reset();
        while ((o = in.poll(10, TimeUnit.SECONDS)) instanceof byte[] b) {
          got.writeBytes(b);
        }
        assertThat(got.toString(StandardCharsets.UTF_8)).isEqualTo("abc");
        assertThat(o).isEqualTo("end");
        await(() -> l.stat("cluster.tcp.upstream_cx_active"), 0);
        conn.close().sync();
      } finally {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
      }
    }
  }

  /** A client WebSocket frame (FIN set, masked as clients must). */
  private static byte[] maskedFrame(int opcode, byte[] payload) {
    byte[] mask = {0x11, 0x22, 0x33, 0x44};
    byte[] f = new byte[2 + 4 + payload.length];
    f[0] = (byte) (0x80 | opcode);
    f[1] = (byte) (0x80 | payload.length);
    System.arraycopy(mask, 0, f, 2, 4);
    for (int i = 0; i < payload.length; i++) {
      f[6 + i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return f;
  }

  @Test
  void unsupportedUpgradeConfigIsRefusedWithItsPath() {
    String hcm = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
    refused(CONFIG.replace("- upgrade_type: WebSocket\n",
            "- { upgrade_type: WebSocket, filters: [ { name: envoy.filters.http.router, typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ] }\n"),
        hcm + ".upgrade_configs[0].filters: upgrade-specific filter chains are not supported yet");
    refused(CONFIG.replace("- upgrade_type: WebSocket\n", "- upgrade_type: WebSocket\n          - upgrade_type: websocket\n"),
        hcm + ".upgrade_configs[1].upgrade_type: Error: multiple upgrade configs with the same name: 'websocket'");
  }

  private static void refused(String yaml, String message) {
    String config = yaml.replace("${WS}", "1").replace("${RAW}", "2").replace("${TCP}", "3");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> io.legate.server.Server.validate(new io.legate.server.Options(null, config, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(io.legate.config.ConfigException.class)
        .hasMessage(message);
  }

  static void await(LongSupplier value, long expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (value.getAsLong() != expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(value.getAsLong()).isEqualTo(expected);
  }

  /** A blocking client connection, read byte by byte where framing matters. */
  static final class Conn implements AutoCloseable {
    final Socket s = new Socket();
    final InputStream in;
    final OutputStream out;

    Conn(int port) throws IOException {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(10_000);
      in = s.getInputStream();
      out = s.getOutputStream();
    }

    void write(String data) throws IOException {
      out.write(data.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    String readHead() throws IOException {
      return readHead(in);
    }

    String read(int n) throws IOException {
      byte[] b = in.readNBytes(n);
      return new String(b, StandardCharsets.ISO_8859_1);
    }

    String readToEnd() throws IOException {
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    static String readHead(InputStream in) throws IOException {
      StringBuilder sb = new StringBuilder();
      int c;
      while ((c = in.read()) >= 0) {
        sb.append((char) c);
        if (sb.length() >= 4 && sb.substring(sb.length() - 4).equals("\r\n\r\n")) {
          break;
        }
      }
      return sb.toString();
    }

    @Override
    public void close() throws IOException {
      s.close();
    }
  }

  /**
   * A blocking upstream. As TCP ({@code tcp}): echoes everything. As HTTP: GET /raw upgrades to
   * "echo" with a 101 and then echoes (closing after echoing "quit"); CONNECT answers 200 and
   * echoes; GET /refuse answers 200 "no"; anything else 200 "plain" (keep-alive). Request heads go
   * to {@link #requests}.
   */
  static final class RawServer implements AutoCloseable {
    static final int FLOOD = 32 << 20;
    final ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    final int port = server.getLocalPort();
    final LinkedBlockingQueue<String> requests = new LinkedBlockingQueue<>();
    final boolean tcp;

    RawServer(boolean tcp) throws IOException {
      this.tcp = tcp;
      Thread t = new Thread(this::accept, "raw-upstream");
      t.setDaemon(true);
      t.start();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          Thread t = new Thread(() -> serve(s), "raw-conn");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        if (tcp) {
          echo(in, out);
          return;
        }
        while (true) {
          String head = Conn.readHead(in);
          if (head.isEmpty()) {
            return; // the proxy closed the connection
          }
          requests.add(head);
          if (head.startsWith("CONNECT ")) {
            out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            echo(in, out);
            return;
          } else if (head.startsWith("GET /raw/flood")) {
            out.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: Echo\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            byte[] chunk = new byte[64 << 10];
            for (int i = 0; i < FLOOD / chunk.length; i++) {
              out.write(chunk);
            }
            out.flush();
            return;
          } else if (head.startsWith("GET /raw")) {
            out.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: Echo\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            echo(in, out);
            return;
          }
          String body = head.startsWith("GET /refuse") ? "no" : "plain";
          out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        }
      } catch (IOException e) {
        // the peer went away
      }
    }

    private static void echo(InputStream in, OutputStream out) throws IOException {
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
        out.flush();
        if (new String(buf, 0, n, StandardCharsets.ISO_8859_1).endsWith("quit")) {
          return;
        }
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }

  /**
   * A Netty WebSocket server on /ws: echoes text frames as "echo:" + text, binary frames as they
   * are followed by a text frame "pushed"; records each handshake's Upgrade header.
   */
  static final class WsServer implements AutoCloseable {
    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    final LinkedBlockingQueue<String> upgradeHeaders = new LinkedBlockingQueue<>();
    final Channel channel;

    WsServer() throws InterruptedException {
      channel =
          new ServerBootstrap()
              .group(group)
              .channel(NioServerSocketChannel.class)
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      ch.pipeline()
                          .addLast(new HttpServerCodec())
                          .addLast(new HttpObjectAggregator(65536))
                          .addLast(
                              new SimpleChannelInboundHandler<io.netty.handler.codec.http.FullHttpRequest>(false) {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, io.netty.handler.codec.http.FullHttpRequest req) {
                                  String up = req.headers().get("upgrade");
                                  if (up != null) {
                                    upgradeHeaders.add(up);
                                  }
                                  ctx.fireChannelRead(req);
                                }
                              })
                          .addLast(
                              new WebSocketServerProtocolHandler(
                                  io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig.newBuilder()
                                      .websocketPath("/ws")
                                      .maxFramePayloadLength(1 << 20)
                                      .build()))
                          .addLast(new io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator(1 << 20))
                          .addLast(
                              new SimpleChannelInboundHandler<WebSocketFrame>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame f) {
                                  if (f instanceof TextWebSocketFrame t) {
                                    ctx.writeAndFlush(new TextWebSocketFrame("echo:" + t.text()));
                                  } else if (f instanceof BinaryWebSocketFrame b) {
                                    ctx.write(new BinaryWebSocketFrame(Unpooled.copiedBuffer(b.content())));
                                    ctx.writeAndFlush(new TextWebSocketFrame("pushed"));
                                  }
                                }
                              });
                    }
                  })
              .bind("127.0.0.1", 0)
              .sync()
              .channel();
    }

    int port() {
      return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
      channel.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}

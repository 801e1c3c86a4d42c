package io.legate.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
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
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real upstream HTTP server for tests (HTTP/1.1 and HTTP/2 cleartext by prior knowledge).
 *
 * <p>Paths: {@code /status/N} answers N; {@code /delay/MS} answers after MS milliseconds; {@code
 * /close} closes the connection without answering; {@code /reset} resets the HTTP/2 stream; {@code /size/N} answers N bytes; {@code /headers/N} answers with N extra headers {@code x-h-I: v}; anything else
 * echoes the request: first line {@code METHOD PATH PROTOCOL}, then the headers as {@code name:
 * value} lines, a blank line, and the body. Every response carries {@code x-upstream: <name>}.
 */
public final class TestUpstream implements AutoCloseable {
  private final String name;
  private final EventLoopGroup group;
  private final Channel channel;
  private final AtomicInteger connections = new AtomicInteger();
  private final ConcurrentLinkedQueue<String> requests = new ConcurrentLinkedQueue<>();

  public TestUpstream(String name) {
    this.name = name;
    this.group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    this.channel =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    connections.incrementAndGet();
                    HttpServerCodec codec = new HttpServerCodec();
                    HttpServerUpgradeHandler upgrade =
                        new HttpServerUpgradeHandler(codec, protocol -> null);
                    ChannelInitializer<Channel> h2 =
                        new ChannelInitializer<>() {
                          @Override
                          protected void initChannel(Channel c) {
                            c.pipeline()
                                .addLast(Http2FrameCodecBuilder.forServer().build())
                                .addLast(
                                    new Http2MultiplexHandler(
                                        new ChannelInitializer<Channel>() {
                                          @Override
                                          protected void initChannel(Channel s) {
                                            s.pipeline()
                                                .addLast(new Http2StreamFrameToHttpObjectCodec(true))
                                                .addLast(new HttpObjectAggregator(16 << 20))
                                                .addLast(new Handler("HTTP/2"));
                                          }
                                        }));
                          }
                        };
                    ch.pipeline()
                        .addLast(new CleartextHttp2ServerUpgradeHandler(codec, upgrade, h2))
                        .addLast(new HttpObjectAggregator(16 << 20))
                        .addLast(new Handler("HTTP/1.1"));
                  }
                })
            .bind("127.0.0.1", 0)
            .syncUninterruptibly()
            .channel();
  }

  public int port() {
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** The number of connections accepted so far. */
  public int connections() {
    return connections.get();
  }

  /** The request lines seen so far ("METHOD PATH PROTOCOL"). */
  public ConcurrentLinkedQueue<String> requests() {
    return requests;
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final String protocol;

    Handler(String protocol) {
      this.protocol = protocol;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      String path = req.uri();
      requests.add(req.method() + " " + path + " " + protocol);
      if (path.startsWith("/reset") && ctx.channel() instanceof io.netty.handler.codec.http2.Http2StreamChannel) {
        // HTTP/2 only: reset the stream (RST_STREAM) instead of answering.
        ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR));
        return;
      }
      if (path.startsWith("/close")) {
        Channel ch = ctx.channel();
        (ch instanceof io.netty.handler.codec.http2.Http2StreamChannel ? ch.parent() : ch).close();
        return;
      }
      if (path.startsWith("/delay/")) {
        long ms = Long.parseLong(path.substring(7).replaceAll("[?/].*", ""));
        FullHttpResponse r = echo(req);
        ctx.executor().schedule(() -> write(ctx, req, r), ms, TimeUnit.MILLISECONDS);
        return;
      }
      if (path.startsWith("/status/")) {
        int code = Integer.parseInt(path.substring(8).replaceAll("[?/].*", ""));
        FullHttpResponse r =
            new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(code), Unpooled.EMPTY_BUFFER);
        write(ctx, req, r);
        return;
      }
      if (path.startsWith("/headers/")) {
        int n = Integer.parseInt(path.substring(9).replaceAll("[?/].*", ""));
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
        for (int i = 0; i < n; i++) {
          r.headers().add("x-h-" + i, "v");
        }
        write(ctx, req, r);
        return;
      }
      if (path.startsWith("/size/")) {
        int n = Integer.parseInt(path.substring(6).replaceAll("[?/].*", ""));
        // One bulk write: per-byte writes are recorded by the paranoid leak detector and crawl.
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
          bytes[i] = (byte) ('a' + (i % 26));
        }
        ByteBuf b = ctx.alloc().buffer(n);
        b.writeBytes(bytes);
        write(ctx, req, new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, b));
        return;
      }
      write(ctx, req, echo(req));
    }

    private FullHttpResponse echo(FullHttpRequest req) {
      StringBuilder sb = new StringBuilder();
      sb.append(req.method()).append(' ').append(req.uri()).append(' ').append(protocol).append('\n');
      for (Map.Entry<String, String> e : req.headers()) {
        sb.append(e.getKey().toLowerCase()).append(": ").append(e.getValue()).append('\n');
      }
      sb.append('\n');
      sb.append(req.content().toString(StandardCharsets.UTF_8));
      return new DefaultFullHttpResponse(
          HttpVersion.HTTP_1_1,
          HttpResponseStatus.OK,
          Unpooled.copiedBuffer(sb.toString(), StandardCharsets.UTF_8));
    }

    private void write(ChannelHandlerContext ctx, FullHttpRequest req, FullHttpResponse r) {
      r.headers().set("x-upstream", name);
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
      String streamId = req.headers().get(HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text());
      if (streamId != null) {
        r.headers().set(HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(), streamId);
      }
      if (!HttpUtil.isKeepAlive(req)) {
        r.headers().set(HttpHeaderNames.CONNECTION, "close");
      }
      ctx.writeAndFlush(r);
    }
  }
}

package io.legate.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A Netty HTTP/2 cleartext client (prior knowledge) for tests: one connection, many streams. */
public final class H2Client implements AutoCloseable {
  /** A complete response. */
  public record Response(Http2Headers headers, String body, byte[] bodyBytes, Http2Headers trailers, boolean reset) {
    public int status() {
      return Integer.parseInt(headers.status().toString());
    }
  }

  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final Channel channel;

  public H2Client(int port) {
    channel =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    ch.pipeline()
                        .addLast(Http2FrameCodecBuilder.forClient().build())
                        .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                  }
                })
            .connect("127.0.0.1", port)
            .syncUninterruptibly()
            .channel();
  }

  /** Sends a request and waits for the whole response. */
  public Response send(String method, String path, String authority, String body, Http2Headers extra) {
    return send(method, path, authority, body == null ? null : body.getBytes(StandardCharsets.UTF_8), extra, null);
  }

  /** Sends a request with a binary body and, when {@code trailers} is not null, request trailers. */
  public Response send(
      String method, String path, String authority, byte[] body, Http2Headers extra, Http2Headers trailers) {
    return send(method, path, authority, body, extra, trailers, 20);
  }

  /** As above, waiting up to {@code timeoutSeconds} for the response. */
  public Response send(
      String method, String path, String authority, byte[] body, Http2Headers extra, Http2Headers trailers, int timeoutSeconds) {
    CompletableFuture<Response> result = new CompletableFuture<>();
    Http2StreamChannel stream =
        new Http2StreamChannelBootstrap(channel)
            .handler(new Collector(result))
            .open()
            .syncUninterruptibly()
            .getNow();
    Http2Headers h = new DefaultHttp2Headers().method(method).path(path).scheme("http").authority(authority);
    if (extra != null) {
      h.add(extra);
    }
    boolean hasBody = body != null;
    stream.write(new DefaultHttp2HeadersFrame(h, !hasBody && trailers == null));
    if (hasBody) {
      stream.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), trailers == null));
    }
    if (trailers != null) {
      stream.write(new DefaultHttp2HeadersFrame(trailers, true));
    }
    stream.flush();
    try {
      return result.get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  /** Waits up to {@code ms} for the proxy to close the connection; returns whether it did. */
  public boolean awaitClosed(long ms) {
    return channel.closeFuture().awaitUninterruptibly(ms);
  }

  public Response get(String path) {
    return send("GET", path, "localhost", null, null);
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private static final class Collector extends ChannelInboundHandlerAdapter {
    private final CompletableFuture<Response> result;
    private Http2Headers headers;
    private final StringBuilder body = new StringBuilder();
    private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

    Collector(CompletableFuture<Response> result) {
      this.result = result;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2HeadersFrame f) {
          if (headers == null) {
            headers = f.headers();
            if (f.isEndStream()) {
              result.complete(new Response(headers, body.toString(), bytes.toByteArray(), null, false));
            }
          } else {
            result.complete(new Response(headers, body.toString(), bytes.toByteArray(), f.headers(), false));
          }
        } else if (msg instanceof Http2DataFrame f) {
          ByteBuf c = f.content();
          body.append(c.toString(StandardCharsets.UTF_8));
          byte[] b = new byte[c.readableBytes()];
          c.getBytes(c.readerIndex(), b);
          bytes.write(b, 0, b.length);
          if (f.isEndStream()) {
            result.complete(new Response(headers, body.toString(), bytes.toByteArray(), null, false));
          }
        } else if (msg instanceof Http2ResetFrame) {
          result.complete(new Response(headers, body.toString(), bytes.toByteArray(), null, true));
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      result.complete(new Response(headers, body.toString(), bytes.toByteArray(), null, true));
    }
  }
}

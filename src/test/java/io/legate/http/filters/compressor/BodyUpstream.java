package io.legate.http.filters.compressor;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * An upstream that serves known bodies for compression tests. {@code GET /body?len=N} answers
 * {@link #body(int)} of N bytes; parameters: {@code ct} content-type (default text/plain), {@code
 * etag}, {@code cc} cache-control, {@code vary}, {@code status}, {@code gzip=1} (the body gzipped, with
 * {@code Content-Encoding: gzip}), {@code chunked=1} (no Content-Length, written in 64 KiB chunks as
 * the socket drains; {@code trailers=1} ends it with trailer {@code x-trailer: done}). {@code POST /echo} answers the request body as it arrived, with the request's
 * content-encoding, accept-encoding and length in {@code x-seen-*} headers.
 */
final class BodyUpstream implements AutoCloseable {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final Channel channel;
  final ConcurrentLinkedQueue<String> acceptEncodings = new ConcurrentLinkedQueue<>();

  BodyUpstream() {
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
                        .addLast(new HttpObjectAggregator(64 << 20))
                        .addLast(new Handler());
                  }
                })
            .bind("127.0.0.1", 0)
            .syncUninterruptibly()
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

  /** Deterministic text of {@code len} bytes: words from a small vocabulary (compresses ~3x). */
  static byte[] body(int len) {
    String[] words = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra"};
    Random r = new Random(len);
    StringBuilder sb = new StringBuilder(len + 16);
    while (sb.length() < len) {
      sb.append(words[r.nextInt(words.length)]).append(r.nextInt(1000)).append(r.nextInt(7) == 0 ? '\n' : ' ');
    }
    sb.setLength(len);
    return sb.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  static byte[] gzip(byte[] data) {
    try {
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
        gz.write(data);
      }
      return bos.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      String ae = req.headers().get(HttpHeaderNames.ACCEPT_ENCODING);
      acceptEncodings.add(ae == null ? "<none>" : ae);
      QueryStringDecoder q = new QueryStringDecoder(req.uri());
      if (q.path().equals("/echo")) {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers()
            .set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
            .set(HttpHeaderNames.CONTENT_LENGTH, req.content().readableBytes())
            .set("x-seen-content-encoding", String.valueOf(req.headers().get(HttpHeaderNames.CONTENT_ENCODING)))
            .set("x-seen-content-length", String.valueOf(req.headers().get(HttpHeaderNames.CONTENT_LENGTH)));
        ctx.write(res);
        ctx.writeAndFlush(new DefaultLastHttpContent(req.content().retain()));
        return;
      }
      int len = Integer.parseInt(param(q, "len", "1000"));
      byte[] payload = body(len);
      if (param(q, "gzip", "0").equals("1")) {
        payload = gzip(payload);
      }
      HttpResponse res =
          new DefaultHttpResponse(
              HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(Integer.parseInt(param(q, "status", "200"))));
      res.headers().set(HttpHeaderNames.CONTENT_TYPE, param(q, "ct", "text/plain"));
      for (String[] h : new String[][] {{"etag", "etag"}, {"cc", "cache-control"}, {"vary", "vary"}}) {
        String v = param(q, h[0], null);
        if (v != null) {
          res.headers().set(h[1], v);
        }
      }
      if (param(q, "gzip", "0").equals("1")) {
        res.headers().set(HttpHeaderNames.CONTENT_ENCODING, "gzip");
      }
      boolean head = req.method().equals(HttpMethod.HEAD);
      boolean chunked = param(q, "chunked", "0").equals("1");
      if (chunked) {
        res.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
      } else {
        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, payload.length);
      }
      ctx.write(res);
      if (head || res.status().code() == 204 || res.status().code() == 304) {
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        return;
      }
      if (!chunked) {
        ctx.writeAndFlush(new DefaultLastHttpContent(Unpooled.wrappedBuffer(payload)));
        return;
      }
      writeChunks(ctx, payload, 0, param(q, "trailers", "0").equals("1"));
    }

    /** Writes the body 64 KiB at a time, each after the previous one was flushed. */
    private void writeChunks(ChannelHandlerContext ctx, byte[] payload, int from, boolean trailers) {
      if (from >= payload.length) {
        LastHttpContent last = new DefaultLastHttpContent();
        if (trailers) {
          last.trailingHeaders().set("x-trailer", "done");
        }
        ctx.writeAndFlush(last);
        return;
      }
      int n = Math.min(64 << 10, payload.length - from);
      ByteBuf chunk = Unpooled.wrappedBuffer(payload, from, n);
      ctx.writeAndFlush(new DefaultHttpContent(chunk))
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (f.isSuccess()) {
                      writeChunks(ctx, payload, from + n, trailers);
                    }
                  });
    }

    private String param(QueryStringDecoder q, String name, String dflt) {
      var v = q.parameters().get(name);
      return v == null || v.isEmpty() ? dflt : v.get(0);
    }
  }
}

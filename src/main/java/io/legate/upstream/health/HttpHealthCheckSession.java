package io.legate.upstream.health;

import io.envoyproxy.envoy.data.core.v3.HealthCheckFailureType;
import io.legate.network.Transport;
import io.legate.upstream.Host;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Envoy's HTTP and gRPC health checks over HTTP/1.1 or HTTP/2 (prior knowledge). One request per
 * check on a connection kept between checks when {@code reuse_connection} is set. HTTP: the status
 * must be in {@code expected_statuses} (a status in {@code retriable_statuses} counts toward {@code
 * unhealthy_threshold}, any other fails at once), the body must contain the {@code receive}
 * segments, and {@code service_name_matcher} checks {@code x-envoy-upstream-healthchecked-cluster}.
 * gRPC: {@code grpc.health.v1.Health/Check} must answer {@code SERVING} with {@code grpc-status: 0}.
 * Resets, closed connections and connect failures are network failures.
 */
final class HttpHealthCheckSession extends HealthCheckSession {
  private static final String USER_AGENT = "Envoy/HC";
  private static final String GRPC_PATH = "/grpc.health.v1.Health/Check";
  private static final int MAX_BODY = 64 * 1024;

  private final boolean grpc;
  private final boolean h2;
  private final String authority;
  private Channel channel;
  private boolean reusable;
  private Http2StreamChannel stream;
  // The response of the running check.
  private int status;
  private Map<String, String> responseHeaders;
  private Map<String, String> trailers;
  private byte[] body = new byte[256];
  private int bodyLength;
  private boolean http10OrClose;

  HttpHealthCheckSession(HealthChecker parent, Host host) {
    super(parent, host);
    this.grpc = config.type() == HealthCheckConfig.Type.GRPC;
    this.h2 = grpc || config.http().http2();
    String configured = grpc ? config.grpc().authority() : config.http().host();
    this.authority = configured.isEmpty() ? parent.cluster().info().name() : configured;
  }

  @Override
  protected void onInterval() {
    status = 0;
    responseHeaders = null;
    trailers = null;
    bodyLength = 0;
    http10OrClose = false;
    if (channel != null && channel.isActive() && reusable) {
      send();
      return;
    }
    closeConnection();
    Channel[] self = new Channel[1];
    ChannelFuture f =
        new Bootstrap()
            .group(parent.loop())
            .channel(Transport.clientChannel(parent.loop()))
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, config.timeoutMs()))
            .option(ChannelOption.TCP_NODELAY, true)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    if (h2) {
                      ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build());
                      ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    } else {
                      ch.pipeline().addLast(new HttpClientCodec());
                    }
                    ch.pipeline().addLast(new Conn());
                  }
                })
            .connect(address);
    channel = f.channel();
    reusable = true;
    self[0] = f.channel();
    f.addListener(
        fut -> {
          if (self[0] != channel) {
            return;
          }
          if (!fut.isSuccess()) {
            channel = null;
            handleFailure(HealthCheckFailureType.NETWORK, false);
            return;
          }
          send();
        });
  }

  private void send() {
    if (h2) {
      Channel conn = channel;
      new Http2StreamChannelBootstrap(conn)
          .handler(new Stream())
          .open()
          .addListener(
              fut -> {
                if (conn != channel || !inFlight()) {
                  if (fut.isSuccess()) {
                    ((Channel) fut.getNow()).close();
                  }
                  return;
                }
                if (!fut.isSuccess()) {
                  closeConnection();
                  handleFailure(HealthCheckFailureType.NETWORK, false);
                  return;
                }
                stream = (Http2StreamChannel) fut.getNow();
                writeH2(stream);
              });
    } else {
      channel.writeAndFlush(h1Request());
    }
  }

  private FullHttpRequest h1Request() {
    HealthCheckConfig.Http http = config.http();
    ByteBuf content = http.send().length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(http.send());
    FullHttpRequest r =
        new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(http.method()), http.path(), content);
    r.headers().set(HttpHeaderNames.HOST, authority);
    r.headers().set(HttpHeaderNames.USER_AGENT, USER_AGENT);
    if (http.send().length > 0) {
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, http.send().length);
    }
    for (String[] h : http.headersToAdd()) {
      r.headers().add(h[0], h[1]);
    }
    for (String name : http.headersToRemove()) {
      if (!name.equalsIgnoreCase("host")) {
        r.headers().remove(name);
      }
    }
    return r;
  }

  private void writeH2(Http2StreamChannel s) {
    Http2Headers headers = new DefaultHttp2Headers();
    byte[] payload;
    if (grpc) {
      headers.method("POST").scheme("http").path(GRPC_PATH).authority(authority);
      headers.set("content-type", "application/grpc");
      headers.set("te", "trailers");
      headers.set("user-agent", USER_AGENT);
      for (String[] h : config.grpc().initialMetadata()) {
        headers.add(h[0], h[1]);
      }
      payload = grpcRequest(config.grpc().serviceName());
    } else {
      HealthCheckConfig.Http http = config.http();
      headers.method(http.method()).scheme("http").path(http.path()).authority(authority);
      headers.set("user-agent", USER_AGENT);
      payload = http.send();
      if (payload.length > 0) {
        headers.setInt("content-length", payload.length);
      }
      for (String[] h : http.headersToAdd()) {
        headers.add(h[0], h[1]);
      }
      for (String name : http.headersToRemove()) {
        if (!name.startsWith(":")) {
          headers.remove(name.toLowerCase(Locale.ROOT));
        }
      }
    }
    s.write(new DefaultHttp2HeadersFrame(headers, payload.length == 0));
    if (payload.length > 0) {
      s.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(payload), true));
    }
    s.flush();
  }

  /** Returns a gRPC-framed {@code grpc.health.v1.HealthCheckRequest{service}}, hand-encoded. */
  static byte[] grpcRequest(String service) {
    byte[] name = service.getBytes(StandardCharsets.UTF_8);
    int msgLen = name.length == 0 ? 0 : 1 + varintSize(name.length) + name.length;
    byte[] out = new byte[5 + msgLen];
    out[1] = (byte) (msgLen >>> 24);
    out[2] = (byte) (msgLen >>> 16);
    out[3] = (byte) (msgLen >>> 8);
    out[4] = (byte) msgLen;
    if (name.length > 0) {
      int i = 5;
      out[i++] = 0x0a; // field 1, length-delimited
      int v = name.length;
      while ((v & ~0x7f) != 0) {
        out[i++] = (byte) ((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      out[i++] = (byte) v;
      System.arraycopy(name, 0, out, i, name.length);
    }
    return out;
  }

  private static int varintSize(int v) {
    int n = 1;
    while ((v & ~0x7f) != 0) {
      n++;
      v >>>= 7;
    }
    return n;
  }

  /**
   * Returns the {@code status} of a gRPC-framed {@code HealthCheckResponse}, or -1 when the bytes
   * are not one uncompressed message (0 = UNKNOWN, 1 = SERVING, 2 = NOT_SERVING, 3 =
   * SERVICE_UNKNOWN).
   */
  static int grpcServingStatus(byte[] data, int length) {
    if (length < 5 || data[0] != 0) {
      return -1;
    }
    long msgLen = ((data[1] & 0xffL) << 24) | ((data[2] & 0xff) << 16) | ((data[3] & 0xff) << 8) | (data[4] & 0xff);
    if (5 + msgLen > length) {
      return -1;
    }
    int end = (int) (5 + msgLen);
    int i = 5;
    int status = 0;
    while (i < end) {
      long[] tag = varint(data, i, end);
      if (tag == null) {
        return -1;
      }
      i = (int) tag[1];
      int field = (int) (tag[0] >>> 3);
      int wire = (int) (tag[0] & 7);
      switch (wire) {
        case 0 -> {
          long[] v = varint(data, i, end);
          if (v == null) {
            return -1;
          }
          i = (int) v[1];
          if (field == 1) {
            status = (int) v[0];
          }
        }
        case 1 -> i += 8;
        case 5 -> i += 4;
        case 2 -> {
          long[] len = varint(data, i, end);
          if (len == null) {
            return -1;
          }
          i = (int) (len[1] + len[0]);
        }
        default -> {
          return -1;
        }
      }
    }
    return i == end ? status : -1;
  }

  private static long[] varint(byte[] data, int i, int end) {
    long v = 0;
    for (int shift = 0; shift < 64 && i < end; shift += 7) {
      byte b = data[i++];
      v |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return new long[] {v, i};
      }
    }
    return null;
  }

  private void appendBody(ByteBuf b) {
    int limit = grpc || !config.http().receive().isEmpty() ? MAX_BODY : 0;
    int n = Math.min(b.readableBytes(), limit - bodyLength);
    if (n <= 0) {
      return;
    }
    if (bodyLength + n > body.length) {
      body = Arrays.copyOf(body, Math.min(MAX_BODY, Math.max(body.length * 2, bodyLength + n)));
    }
    b.getBytes(b.readerIndex(), body, bodyLength, n);
    bodyLength += n;
  }

  private void onResponseComplete() {
    if (!inFlight()) {
      return;
    }
    boolean success;
    boolean retriable = false;
    boolean degraded = false;
    if (grpc) {
      success = grpcPassed();
    } else {
      HealthCheckConfig.Http http = config.http();
      Function<String, String> header = n -> responseHeaders == null ? null : responseHeaders.get(n);
      if (!http.receive().isEmpty() && !matches(http.receive(), body, bodyLength)) {
        success = false;
      } else if (!http.expected(status)) {
        success = false;
        retriable = http.retriable(status);
      } else {
        degraded = header.apply("x-envoy-degraded") != null;
        success = true;
        if (http.serviceNameMatcher() != null) {
          parent.stats().verifyCluster.inc();
          String v = header.apply("x-envoy-upstream-healthchecked-cluster");
          success = http.serviceNameMatcher().matches(v == null ? "" : v);
        }
      }
    }
    if (!config.reuseConnection() || (!h2 && http10OrClose)) {
      closeConnection();
    }
    if (success) {
      handleSuccess(degraded);
    } else {
      handleFailure(HealthCheckFailureType.ACTIVE, retriable);
    }
  }

  private boolean grpcPassed() {
    if (status != 200) {
      return false;
    }
    String ct = responseHeaders.get("content-type");
    if (ct == null || !ct.startsWith("application/grpc")) {
      return false;
    }
    String grpcStatus = trailers != null ? trailers.get("grpc-status") : responseHeaders.get("grpc-status");
    if (!"0".equals(grpcStatus)) {
      return false;
    }
    return grpcServingStatus(body, bodyLength) == 1;
  }

  private void networkFailure() {
    closeConnection();
    handleFailure(HealthCheckFailureType.NETWORK, false);
  }

  private void closeConnection() {
    Channel ch = channel;
    channel = null;
    stream = null;
    if (ch != null) {
      ch.close();
    }
  }

  @Override
  protected void onTimeout() {
    closeConnection();
  }

  @Override
  protected void onStop() {
    closeConnection();
  }

  private static Map<String, String> toMap(Http2Headers h) {
    Map<String, String> m = new HashMap<>();
    h.forEach(e -> m.putIfAbsent(e.getKey().toString().toLowerCase(Locale.ROOT), e.getValue().toString()));
    return m;
  }

  /** The connection's handler: HTTP/1.1 responses, GOAWAY and close for both protocols. */
  private final class Conn extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (ctx.channel() != channel) {
          return;
        }
        if (msg instanceof Http2GoAwayFrame) {
          reusable = false;
          return;
        }
        if (msg instanceof HttpResponse r) {
          status = r.status().code();
          Map<String, String> m = new HashMap<>();
          r.headers().forEach(e -> m.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
          responseHeaders = m;
          http10OrClose =
              r.protocolVersion().equals(HttpVersion.HTTP_1_0)
                  || r.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true);
        }
        if (msg instanceof HttpContent c) {
          appendBody(c.content());
          if (msg instanceof LastHttpContent) {
            onResponseComplete();
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (ctx.channel() == channel) {
        channel = null;
        stream = null;
        if (inFlight()) {
          handleFailure(HealthCheckFailureType.NETWORK, false);
        }
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /** One HTTP/2 request stream. */
  private final class Stream extends ChannelInboundHandlerAdapter {
    private boolean complete;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (ctx.channel() != stream) {
          return;
        }
        boolean end = false;
        if (msg instanceof Http2HeadersFrame hf) {
          if (responseHeaders == null) {
            CharSequence s = hf.headers().status();
            int code = 0;
            try {
              code = s == null ? 0 : Integer.parseInt(s.toString());
            } catch (NumberFormatException ignored) {
              // a malformed status fails the check
            }
            if (code >= 100 && code < 200) {
              return; // informational
            }
            status = code;
            responseHeaders = toMap(hf.headers());
          } else {
            trailers = toMap(hf.headers());
          }
          end = hf.isEndStream();
        } else if (msg instanceof Http2DataFrame df) {
          appendBody(df.content());
          end = df.isEndStream();
        }
        if (end) {
          complete = true;
          stream = null;
          ctx.close();
          onResponseComplete();
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (!complete && ctx.channel() == stream) {
        stream = null;
        if (inFlight()) {
          networkFailure();
        }
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}

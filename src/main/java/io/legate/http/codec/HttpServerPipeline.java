package io.legate.http.codec;

import io.legate.http.ConnectionInfo;
import io.legate.http.HcmConfig;
import io.legate.http.HcmStats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Installs the downstream HTTP codec on a connection: HTTP/1.1, HTTP/2, or detection of either. */
public final class HttpServerPipeline {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  private HttpServerPipeline() {}

  /**
   * Writes are flushed at once by the codecs (a response's headers reach the client when they are
   * ready, not with its first body bytes), and this handler turns the flushes of one event-loop
   * iteration into one system call: those made while the connection itself is reading wait for the
   * end of the read; the others (a response arriving from an upstream connection, several HTTP/2
   * streams answered in one pass) run as one task after the loop's pending I/O events.
   */
  public static FlushConsolidationHandler flushConsolidation() {
    return new FlushConsolidationHandler(FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true);
  }

  /** Adds the codec for {@code config.codec} to a new connection's pipeline. */
  public static void install(ChannelPipeline p, HcmConfig config, boolean tls) {
    switch (config.codec) {
      case HTTP1 -> installHttp1(p, config, tls);
      case HTTP2 -> installHttp2(p, config, tls);
      default -> p.addLast("legate-detect", new Detector(config, tls));
    }
  }

  /** Installs the HTTP/1.1 codec. */
  public static void installHttp1(ChannelPipeline p, HcmConfig config, boolean tls) {
    if (config.idleTimeoutMs > 0) {
      p.addLast("idle", new IdleStateHandler(0, 0, config.idleTimeoutMs, TimeUnit.MILLISECONDS));
    }
    Http1ServerHandler handler = new Http1ServerHandler(config, tls);
    if (config.requestHeadersTimeoutMs > 0) {
      RequestHeadersTimer timer = new RequestHeadersTimer(config.requestHeadersTimeoutMs, handler::onRequestHeadersTimeout);
      handler.setRequestHeadersTimer(timer);
      p.addLast("request-headers-timeout", timer);
    }
    p.addLast("flush", flushConsolidation());
    p.addLast("http1", new Http1ServerCodec(config, tls));
    p.addLast("legate-h1", handler);
  }

  /** Installs the HTTP/2 codec with one child channel per stream. */
  public static void installHttp2(ChannelPipeline p, HcmConfig config, boolean tls) {
    Http2Settings settings =
        Http2Settings.defaultSettings()
            .maxConcurrentStreams(config.h2MaxConcurrentStreams)
            .initialWindowSize(config.h2InitialStreamWindowSize)
            .maxHeaderListSize(config.maxRequestHeadersBytes);
    if (config.h2AllowConnect) {
      settings.connectProtocolEnabled(true); // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    }
    Http2FrameCodec codec =
        Http2FrameCodecBuilder.forServer()
            .initialSettings(settings)
            .validateHeaders(true)
            .autoAckSettingsFrame(true)
            // Floods (Envoy's http2_protocol_options limits): a peer that does not read the
            // PING/SETTINGS acks and resets it provokes, or sends runs of empty frames, loses the
            // connection with GOAWAY ENHANCE_YOUR_CALM.
            .encoderEnforceMaxQueuedControlFrames(config.h2MaxOutboundControlFrames)
            .decoderEnforceMaxConsecutiveEmptyDataFrames(config.h2MaxConsecutiveEmptyFrames)
            // Rapid reset is judged as Envoy does (premature resets per connection, below), not
            // by Netty's resets-per-window rule.
            .decoderEnforceMaxRstFramesPerWindow(0, 0)
            .build();
    Channel parent = p.channel();
    ConnectionInfo conn =
        new ConnectionInfo(
            config,
            parent,
            (InetSocketAddress) parent.remoteAddress(),
            (InetSocketAddress) parent.localAddress(),
            tls,
            "HTTP/2");
    if (config.idleTimeoutMs > 0) {
      p.addLast("idle", new IdleStateHandler(0, 0, config.idleTimeoutMs, TimeUnit.MILLISECONDS));
    }
    p.addLast(
        "h2-limits",
        new Http2FrameLimits(
            config.h2MaxOutboundFrames,
            config.h2MaxInboundPriorityFramesPerStream,
            config.h2MaxInboundWindowUpdateFramesPerDataFrameSent,
            config.h2Stats));
    p.addLast("flush", flushConsolidation());
    p.addLast("h2", codec);
    codec.connection().addListener(new FloodStats(config.h2Stats));
    PrematureResets resets = new PrematureResets(parent, config.stats, config.maxRequestsPerConnection, config.overload);
    if (config.maxConnectionDurationMs > 0) {
      io.netty.util.concurrent.ScheduledFuture<?> t =
          parent.eventLoop()
              .schedule(
                  () -> {
                    if (parent.isActive()) {
                      config.stats.downstreamCxMaxDurationReached.inc();
                      parent.close(); // graceful: GOAWAY, then close when the open streams are done
                    }
                  },
                  config.maxConnectionDurationMs,
                  TimeUnit.MILLISECONDS);
      parent.closeFuture().addListener(f -> t.cancel(false));
    }
    p.addLast(
        "h2-mux",
        new Http2MultiplexHandler(
            new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel ch) {
                ch.pipeline().addLast(new Http2ServerStreamHandler(conn, resets));
              }
            }));
    p.addLast("h2-conn", new Http2ConnectionStats(config, codec));
  }

  /** Counts the connections the codec closed for a flood, from the GOAWAY it sent. */
  private static final class FloodStats extends io.netty.handler.codec.http2.Http2ConnectionAdapter {
    private final Http2CodecStats stats;

    FloodStats(Http2CodecStats stats) {
      this.stats = stats;
    }

    @Override
    public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {
      if (errorCode != io.netty.handler.codec.http2.Http2Error.ENHANCE_YOUR_CALM.code()) {
        return;
      }
      String why = debugData.toString(java.nio.charset.StandardCharsets.US_ASCII);
      if (why.contains("control frames")) {
        stats.outboundControlFlood().inc();
      } else if (why.contains("empty data frames")) {
        stats.inboundEmptyFramesFlood().inc();
      }
    }
  }

  /**
   * Envoy's defence against rapid reset (CVE-2023-44487): a connection whose streams mostly end
   * "prematurely" — within a second of starting and without a response status — is closed. The
   * judgement starts once half of 500 streams were premature, then applies whenever at least
   * half of the closed streams were.
   */
  static final class PrematureResets {
    static final int TOTAL_STREAM_COUNT = 500;
    static final long MIN_STREAM_LIFETIME_NANOS = TimeUnit.SECONDS.toNanos(1);
    private final Channel connection;
    private final HcmStats stats;
    private long closed;
    private long premature;

    private final long maxRequests;

    private final io.legate.server.OverloadManager overload;

    PrematureResets(Channel connection, HcmStats stats, long maxRequests, io.legate.server.OverloadManager overload) {
      this.connection = connection;
      this.overload = overload;
      this.stats = stats;
      this.maxRequests = maxRequests;
    }

    private long started;

    /**
     * Records a new stream; the connection starts draining (GOAWAY, then closes once its streams
     * finish) when it reaches {@code max_requests_per_connection}.
     */
    void streamStarted() {
      started++;
      if (maxRequests > 0 && started == maxRequests) {
        stats.downstreamCxMaxRequestsReached.inc();
        // Tell the client to open no more streams; the connection closes once the open ones end.
        connection.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame(io.netty.handler.codec.http2.Http2Error.NO_ERROR));
      }
    }

    private boolean keepaliveDisabled;

    /**
     * Called as a final response starts: under the overload manager's {@code
     * disable_http_keepalive} the connection drains as Envoy's does (GOAWAY, then closes once the
     * open streams end), counted once per connection.
     */
    void responseStarted() {
      if (!keepaliveDisabled && overload.disableHttpKeepalive() && connection.isActive()) {
        keepaliveDisabled = true;
        stats.downstreamCxOverloadDisableKeepalive.inc();
        connection.close(); // graceful: GOAWAY, then close when the open streams are done
      }
    }

    /** Records a closed stream (on the connection's event loop). */
    void streamClosed(long lifetimeNanos, boolean responded) {
      closed++;
      if (maxRequests > 0 && started >= maxRequests && closed >= started && connection.isActive()) {
        connection.close();
      }
      if (!responded && lifetimeNanos <= MIN_STREAM_LIFETIME_NANOS) {
        premature++;
      }
      if (premature == 0) {
        return;
      }
      boolean tooMany =
          closed < TOTAL_STREAM_COUNT ? premature * 2 >= TOTAL_STREAM_COUNT : premature * 2 >= closed;
      if (tooMany && connection.isActive()) {
        stats.downstreamRqTooManyPrematureResets.inc();
        connection.close();
        premature = 0; // count the connection once
      }
    }
  }

  /** Per-connection stats and the connection window for HTTP/2. */
  private static final class Http2ConnectionStats extends ChannelInboundHandlerAdapter {
    private final HcmConfig config;
    private final long start = System.nanoTime();

    Http2ConnectionStats(HcmConfig config, Http2FrameCodec codec) {
      this.config = config;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      HcmStats s = config.stats;
      s.downstreamCxTotal.inc();
      s.downstreamCxHttp2Total.inc();
      s.downstreamCxActive.inc();
      s.downstreamCxHttp2Active.inc();
      int delta = config.h2InitialConnectionWindowSize - Http2CodecUtil.DEFAULT_WINDOW_SIZE;
      if (delta > 0) {
        ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(delta));
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      HcmStats s = config.stats;
      s.downstreamCxActive.dec();
      s.downstreamCxHttp2Active.dec();
      s.downstreamCxDestroy.inc();
      s.downstreamCxLengthMs.record((System.nanoTime() - start) / 1_000_000);
      super.channelInactive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof io.legate.http.DrainEvent) {
        config.stats.downstreamCxDrainClose.inc();
        ctx.channel().close(); // graceful: GOAWAY, then close once the open streams end
        return;
      }
      if (evt instanceof io.netty.handler.timeout.IdleStateEvent) {
        config.stats.downstreamCxIdleTimeout.inc();
        ctx.close();
        return;
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      config.stats.downstreamCxProtocolError.inc();
      if (io.netty.handler.codec.http2.Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null) {
        // The codec answers its own errors with the right GOAWAY and closes; closing here
        // first would replace that GOAWAY with a graceful one.
        return;
      }
      ctx.close();
    }
  }

  /** Chooses HTTP/2 when the connection starts with the HTTP/2 preface, else HTTP/1.1. */
  private static final class Detector extends ByteToMessageDecoder {
    private final HcmConfig config;
    private final boolean tls;

    Detector(HcmConfig config, boolean tls) {
      this.config = config;
      this.tls = tls;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
      boolean prefix =
          ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n);
      if (prefix && n < PREFACE.readableBytes()) {
        return; // need more bytes to decide
      }
      ChannelPipeline p = ctx.pipeline();
      if (prefix) {
        installHttp2(p, config, tls);
      } else {
        installHttp1(p, config, tls);
      }
      p.remove(this);
    }
  }
}

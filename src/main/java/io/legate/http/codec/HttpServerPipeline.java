package io.legate.http.codec;

import io.legate.http.ConnectionInfo;
import io.legate.http.HcmConfig;
import io.legate.http.HcmStats;
import io.legate.network.BatchedFlushHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
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
   * end of the read; the others (a response arriving from an upstream connection) run as one task
   * after the loop's pending I/O events. Used by the HTTP/1.1 pipelines; the HTTP/2 codecs group
   * their flushes themselves ({@link Http2ServerConnection}, {@link Http2Codec}). It pays on io_uring
   * too, where a flush only queues a submission: without it (downstream and upstream HTTP/1.1),
   * {@code bench/run --variant} measured 0.83× the rps on h1-64, 0.84× on 16 KiB and 0.88× on HTTP/2,
   * with twice the context switches per request — the larger batches are the gain.
   */
  public static BatchedFlushHandler flushConsolidation() {
    return new BatchedFlushHandler();
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

  /** Installs the HTTP/2 codec: one connection handler, a plain object per stream. */
  public static void installHttp2(ChannelPipeline p, HcmConfig config, boolean tls) {
    Channel parent = p.channel();
    ConnectionInfo conn =
        new ConnectionInfo(
            config,
            parent,
            (InetSocketAddress) parent.remoteAddress(),
            (InetSocketAddress) parent.localAddress(),
            tls,
            "HTTP/2");
    Http2ServerConnection codec = Http2ServerConnection.create(config, conn);
    p.addLast(
        "h2-limits",
        new Http2FrameLimits(
            config.h2MaxOutboundFrames,
            config.h2MaxOutboundControlFrames,
            config.h2MaxInboundPriorityFramesPerStream,
            config.h2MaxInboundWindowUpdateFramesPerDataFrameSent,
            config.h2Stats));
    p.addLast("h2", codec); // flushes its writes together itself, see Http2ServerConnection
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
    p.addLast("h2-conn", new Http2ConnectionStats(config));
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

    private final Runnable goAway;

    PrematureResets(
        Channel connection, HcmStats stats, long maxRequests, io.legate.server.OverloadManager overload, Runnable goAway) {
      this.connection = connection;
      this.goAway = goAway;
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
        goAway.run();
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

  /** Per-connection stats, drain and idle timeout for HTTP/2. */
  private static final class Http2ConnectionStats extends ChannelInboundHandlerAdapter {
    private final HcmConfig config;
    private final long start = System.nanoTime();

    Http2ConnectionStats(HcmConfig config) {
      this.config = config;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      HcmStats s = config.stats;
      s.downstreamCxTotal.inc();
      s.downstreamCxHttp2Total.inc();
      s.downstreamCxActive.inc();
      s.downstreamCxHttp2Active.inc();
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
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // HTTP/2 errors are answered (GOAWAY) and counted by the codec; what arrives here is the
      // socket's (a reset by the peer, for example), not a protocol error.
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

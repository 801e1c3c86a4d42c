package io.legate.upstream.pool;

import io.legate.http.codec.HeaderUtil;
import io.legate.tls.TlsErrors;
import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * HTTP/2 connections to one host on one worker: streams are multiplexed on one connection, and a
 * new connection opens only when the current one is full or going away.
 */
public final class Http2ConnPool implements ConnPool {
  private static final AsciiString HTTP = AsciiString.cached("http");

  private final EventLoop loop;
  private final String sni;
  private final Host host;
  private final ClusterInfo cluster;
  private final ClusterStats stats;
  private final List<Conn> conns = new ArrayList<>(1);
  private final CircuitBreakers.ResourceManager resources;
  // Streams waiting for a connection that max_connections does not let open.
  private final ArrayDeque<StreamHandler> waiting = new ArrayDeque<>();
  private boolean draining;

  public Http2ConnPool(EventLoop loop, Host host, ClusterInfo cluster) {
    this(loop, host, cluster, cluster.circuitBreakers().forPriority(CircuitBreakers.Priority.DEFAULT));
  }

  /** Creates a pool whose streams and connections count against {@code resources}. */
  public Http2ConnPool(EventLoop loop, Host host, ClusterInfo cluster, CircuitBreakers.ResourceManager resources) {
    this(loop, host, cluster, resources, null);
  }

  /** Creates a pool whose TLS connections send {@code sni} (auto_sni; null: the transport socket's). */
  public Http2ConnPool(EventLoop loop, Host host, ClusterInfo cluster, CircuitBreakers.ResourceManager resources, String sni) {
    this.sni = sni;
    this.loop = loop;
    this.host = host;
    this.cluster = cluster;
    this.stats = cluster.stats();
    this.resources = resources;
  }

  /**
   * {@inheritDoc}
   *
   * <p>Circuit breakers as {@link Http1ConnPool}: a stream waiting for a connection counts against
   * {@code max_pending_requests}, an open stream against {@code max_requests}, and a new connection
   * against {@code max_connections} (at the limit the stream waits for a stream slot to free).
   */
  @Override
  public Cancellable newStream(UpstreamCallbacks callbacks) {
    assert loop.inEventLoop();
    Conn target = null;
    for (Conn c : conns) {
      if (!c.goingAway && c.active + c.pending.size() < c.maxStreams) {
        target = c;
        break;
      }
    }
    if (target != null && target.ready) {
      return target.request(callbacks);
    }
    if (!resources.pendingRequests().tryAcquire()) {
      overflow(callbacks);
      return null;
    }
    if (target == null) {
      if (resources.connections().tryAcquire()) {
        target = newConn();
      } else {
        stats.upstreamCxOverflow.inc();
        if (conns.isEmpty()) {
          resources.connections().forceAcquire();
          target = newConn();
        } else {
          StreamHandler s = new StreamHandler(null, callbacks);
          s.holdsPending = true;
          waiting.addLast(s);
          return s;
        }
      }
    }
    StreamHandler s = target.request(callbacks);
    s.holdsPending = true;
    return s;
  }

  private Conn newConn() {
    Conn c = new Conn();
    conns.add(c);
    c.connect();
    return c;
  }

  private void overflow(UpstreamCallbacks callbacks) {
    stats.upstreamRqPendingOverflow.inc();
    callbacks.onPoolFailure(UpstreamCallbacks.Reason.OVERFLOW, null, host);
  }

  /** Moves streams waiting for a connection onto connections with free stream slots. */
  private void serveWaiting() {
    while (!waiting.isEmpty()) {
      Conn target = null;
      for (Conn c : conns) {
        if (!c.goingAway && c.active + c.pending.size() < c.maxStreams) {
          target = c;
          break;
        }
      }
      if (target == null) {
        if (resources.connections().tryAcquire()) {
          target = newConn();
        } else if (conns.isEmpty()) {
          resources.connections().forceAcquire();
          target = newConn();
        } else {
          return;
        }
      }
      StreamHandler s = waiting.pollFirst();
      s.conn = target;
      target.enqueue(s);
    }
  }

  @Override
  public void drain() {
    draining = true;
    for (Conn c : new ArrayList<>(conns)) {
      c.goingAway = true;
      if (c.active == 0) {
        c.channel.close();
      }
    }
  }

  @Override
  public int connections() {
    return conns.size();
  }

  private final class Conn extends ChannelInboundHandlerAdapter {
    private Channel channel;
    private SslHandler ssl;
    private boolean ready;
    private boolean goingAway;
    private int active;
    private long maxStreams = Math.max(1, cluster.http2MaxConcurrentStreams());
    private final List<StreamHandler> pending = new ArrayList<>();
    private long connectStart;
    private long connectedAt;
    private long idleSinceNanos;
    private boolean idleTimerArmed;

    void connect() {
      connectStart = System.nanoTime();
      stats.upstreamCxTotal.inc();
      stats.upstreamCxHttp2Total.inc();
      stats.upstreamCxActive.inc();
      host.cxTotal.increment();
      host.activeConnections.incrementAndGet();
      Http2Settings settings =
          Http2Settings.defaultSettings()
              .pushEnabled(false)
              .initialWindowSize(cluster.http2InitialStreamWindowSize());
      ChannelFuture f =
          UpstreamConnections.pooledBootstrap(loop, cluster)
              .handler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      if (cluster.tls() != null) {
                        ssl = cluster.tls().newHandler(ch.alloc(), host.address(), true, sni);
                        ch.pipeline().addLast("ssl", ssl);
                      }
                      Http2FrameCodec codec =
                          Http2FrameCodecBuilder.forClient().initialSettings(settings).build();
                      ch.pipeline().addLast("flush", io.legate.http.codec.HttpServerPipeline.flushConsolidation());
                      ch.pipeline().addLast("h2", codec);
                      ch.pipeline().addLast("h2-mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                      ch.pipeline().addLast("legate-h2-upstream", Conn.this);
                    }
                  })
              .connect(host.address());
      channel = f.channel();
      f.addListener(
          fut -> {
            if (fut.isSuccess() && ssl != null) {
              // Connected once the TLS handshake is done, as Envoy; ALPN must not pick another protocol.
              ssl.handshakeFuture()
                  .addListener(
                      hs -> {
                        String alpn = hs.isSuccess() ? ssl.applicationProtocol() : null;
                        if (alpn != null && !alpn.equals("h2")) {
                          onConnect(false, new javax.net.ssl.SSLException("ALPN selected '" + alpn + "' for an HTTP/2 pool"), true);
                        } else {
                          onConnect(hs.isSuccess(), hs.cause(), true);
                        }
                      });
            } else {
              onConnect(fut.isSuccess(), fut.cause(), false);
            }
          });
    }

    private void onConnect(boolean success, Throwable failure, boolean tls) {
            if (success) {
              if (tls) {
                cluster.tls().stats().handshake.inc();
              }
              connectedAt = System.nanoTime();
              stats.upstreamCxConnectMs.record((connectedAt - connectStart) / 1_000_000);
              int delta = cluster.http2InitialConnectionWindowSize() - Http2CodecUtil.DEFAULT_WINDOW_SIZE;
              if (delta > 0) {
                channel.writeAndFlush(new DefaultHttp2WindowUpdateFrame(delta));
              }
              ready = true;
              List<StreamHandler> ready = new ArrayList<>(pending);
              pending.clear();
              for (StreamHandler s : ready) {
                open(s);
              }
            } else {
              conns.remove(this);
              Throwable cause = failure;
              boolean timeout = UpstreamConnections.recordConnectFailure(stats, host, cause);
              if (tls) {
                // The connection was up: channelInactive settles the active counts and the breaker.
                cluster.tls().stats().connectionError.inc();
                channel.close();
              } else {
                stats.upstreamCxActive.dec();
                host.activeConnections.decrementAndGet();
                releaseConnection();
              }
              List<StreamHandler> failed = new ArrayList<>(pending);
              pending.clear();
              failed.addAll(Http2ConnPool.this.waiting);
              Http2ConnPool.this.waiting.clear();
              for (StreamHandler s : failed) {
                s.releasePending();
                if (s.cb != null) {
                  s.cb.onPoolFailure(
                      timeout ? UpstreamCallbacks.Reason.CONNECTION_TIMEOUT : UpstreamCallbacks.Reason.CONNECTION_FAILURE,
                      tls ? TlsErrors.transportFailureReason(cause) : cause == null ? null : cause.getMessage(),
                      host);
                }
              }
            }
    }

    private boolean cxReleased;

    void releaseConnection() {
      if (!cxReleased) {
        cxReleased = true;
        resources.connections().release();
      }
    }

    StreamHandler request(UpstreamCallbacks cb) {
      StreamHandler s = new StreamHandler(this, cb);
      enqueue(s);
      return s;
    }

    void enqueue(StreamHandler s) {
      if (ready) {
        open(s);
      } else {
        pending.add(s);
      }
    }

    void open(StreamHandler s) {
      s.releasePending();
      if (s.cb == null) {
        return; // cancelled while waiting
      }
      if (!resources.requests().tryAcquire()) {
        UpstreamCallbacks c = s.cb;
        s.cb = null;
        overflow(c);
        return;
      }
      active++;
      new Http2StreamChannelBootstrap(channel)
          .handler(s)
          .open()
          .addListener(
              fut -> {
                if (fut.isSuccess()) {
                  s.channel = (Http2StreamChannel) fut.getNow();
                  if (s.cb != null) {
                    s.cb.onReady(s, host);
                  } else {
                    s.channel.close();
                  }
                } else {
                  streamClosed();
                  UpstreamCallbacks c = s.cb;
                  s.cb = null;
                  if (c != null) {
                    c.onPoolFailure(UpstreamCallbacks.Reason.CONNECTION_FAILURE, String.valueOf(fut.cause()), host);
                  }
                }
              });
    }

    void streamClosed() {
      active--;
      resources.requests().release();
      if (active == 0 && (goingAway || draining)) {
        channel.close();
      } else {
        if (active == 0) {
          idleSinceNanos = System.nanoTime();
          long timeout = cluster.idleTimeoutMs();
          if (timeout > 0 && !idleTimerArmed) {
            armIdleTimer(timeout);
          }
        }
        serveWaiting();
      }
    }

    /**
     * The cluster's idle timeout (common_http_protocol_options.idle_timeout, one hour by default):
     * a connection without streams for that long is closed. One timer per connection, re-armed
     * lazily for the rest of the idle period.
     */
    private void armIdleTimer(long delayMs) {
      idleTimerArmed = true;
      loop.schedule(this::onIdleTimer, delayMs, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void onIdleTimer() {
      idleTimerArmed = false;
      if (active > 0 || !channel.isActive()) {
        return;
      }
      long timeout = cluster.idleTimeoutMs();
      long idleMs = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idleSinceNanos);
      if (idleMs >= timeout) {
        conns.remove(this);
        stats.upstreamCxIdleTimeout.inc();
        channel.close();
      } else {
        armIdleTimer(timeout - idleMs);
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Http2SettingsFrame sf) {
        Long m = sf.settings().maxConcurrentStreams();
        if (m != null) {
          maxStreams = Math.max(1, Math.min(m, cluster.http2MaxConcurrentStreams()));
        }
      } else if (msg instanceof Http2GoAwayFrame) {
        goingAway = true;
        conns.remove(this);
      }
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      conns.remove(this);
      releaseConnection();
      stats.upstreamCxActive.dec();
      stats.upstreamCxDestroy.inc();
      host.activeConnections.decrementAndGet();
      if (connectedAt != 0) {
        stats.upstreamCxLengthMs.record((System.nanoTime() - connectedAt) / 1_000_000);
      }
      serveWaiting();
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  private final class StreamHandler extends ChannelInboundHandlerAdapter implements UpstreamStream, Cancellable {
    @Override
    public java.net.InetSocketAddress localAddress() {
      io.netty.channel.Channel c = channel == null ? null : channel.parent();
      return c == null ? null : (java.net.InetSocketAddress) c.localAddress();
    }

    @Override
    public java.net.InetSocketAddress remoteAddress() {
      io.netty.channel.Channel c = channel == null ? null : channel.parent();
      return c == null ? null : (java.net.InetSocketAddress) c.remoteAddress();
    }

    private Conn conn;
    private boolean holdsPending;
    private UpstreamCallbacks cb;
    private Http2StreamChannel channel;
    private boolean responseStarted;
    private boolean finished;

    StreamHandler(Conn conn, UpstreamCallbacks cb) {
      this.conn = conn;
      this.cb = cb;
    }

    void releasePending() {
      if (holdsPending) {
        holdsPending = false;
        resources.pendingRequests().release();
      }
    }

    @Override
    public void cancel() {
      cb = null;
      if (waiting.remove(this) || (conn != null && conn.pending.remove(this))) {
        releasePending();
      }
      if (channel != null) {
        channel.close();
      }
    }

    @Override
    public void writeHeaders(Http2Headers headers, boolean endStream) {
      if (headers.method() != null && io.netty.util.AsciiString.contentEquals(headers.method(), "CONNECT")
          && headers.path() == null) {
        // A CONNECT carries only :method and :authority (RFC 9113 §8.5).
        headers.remove(Http2Headers.PseudoHeaderName.SCHEME.value());
      } else if (headers.scheme() == null) {
        headers.scheme(HTTP);
      }
      HeaderUtil.sanitizeHttp2(headers);
      channel.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream));
    }

    @Override
    public void writeData(ByteBuf data, boolean endStream) {
      stats.upstreamCxTxBytesTotal.add(data.readableBytes());
      channel.writeAndFlush(new DefaultHttp2DataFrame(data, endStream));
    }

    @Override
    public void writeTrailers(Http2Headers trailers) {
      channel.writeAndFlush(new DefaultHttp2HeadersFrame(trailers, true));
    }

    @Override
    public void reset() {
      cb = null;
      if (channel != null && channel.isActive() && !finished) {
        channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
      }
      if (channel != null) {
        channel.close();
      }
    }

    @Override
    public void readDisable(boolean disable) {
      if (channel != null) {
        channel.config().setAutoRead(!disable);
      }
    }

    @Override
    public boolean isWritable() {
      return channel != null && channel.isWritable();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      UpstreamCallbacks c = cb;
      if (c == null) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof Http2HeadersFrame f) {
        Http2Headers h = f.headers();
        if (!responseStarted) {
          CharSequence status = h.status();
          if (status != null && status.length() == 3 && status.charAt(0) == '1') {
            return; // interim response
          }
          responseStarted = true;
          if (f.isEndStream()) {
            finished = true;
          }
          c.onHeaders(HeaderUtil.sanitizeHttp2(h), f.isEndStream());
        } else {
          finished = true;
          c.onTrailers(h);
        }
      } else if (msg instanceof Http2DataFrame f) {
        stats.upstreamCxRxBytesTotal.add(f.content().readableBytes());
        if (f.isEndStream()) {
          finished = true;
        }
        c.onData(f.content(), f.isEndStream());
      } else if (msg instanceof Http2ResetFrame rst) {
        cb = null;
        c.onReset(
            rst.errorCode() == Http2Error.REFUSED_STREAM.code()
                ? UpstreamCallbacks.Reason.REMOTE_REFUSED_STREAM_RESET
                : UpstreamCallbacks.Reason.REMOTE_RESET);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      // Netty delivers a peer's RST_STREAM to the stream channel as a user event.
      if (evt instanceof Http2ResetFrame rst) {
        UpstreamCallbacks c = cb;
        cb = null;
        if (c != null && !finished) {
          c.onReset(
              rst.errorCode() == Http2Error.REFUSED_STREAM.code()
                  ? UpstreamCallbacks.Reason.REMOTE_REFUSED_STREAM_RESET
                  : UpstreamCallbacks.Reason.REMOTE_RESET);
        }
        return;
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
      UpstreamCallbacks c = cb;
      if (c != null) {
        c.onWritabilityChanged(ctx.channel().isWritable());
      }
      super.channelWritabilityChanged(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      conn.streamClosed();
      UpstreamCallbacks c = cb;
      cb = null;
      if (c != null && !finished) {
        c.onReset(UpstreamCallbacks.Reason.CONNECTION_TERMINATION);
      }
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}

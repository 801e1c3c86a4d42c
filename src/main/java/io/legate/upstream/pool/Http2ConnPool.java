package io.legate.upstream.pool;

import io.legate.http.codec.HeaderUtil;
import io.legate.http.codec.Http2Codec;
import io.legate.tls.TlsErrors;
import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * HTTP/2 connections to one host on one worker: streams are multiplexed on one connection, and a
 * new connection opens only when the current one is full or going away. Each connection is an
 * {@link Http2Codec} (Netty's connection handler with a frame listener); each stream is a plain
 * object attached to Netty's stream state, with no channel of its own.
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
  private final ArrayDeque<Stream> waiting = new ArrayDeque<>();
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
          Stream s = new Stream(null, callbacks);
          s.holdsPending = true;
          waiting.addLast(s);
          return s;
        }
      }
    }
    Stream s = target.request(callbacks);
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
      Stream s = waiting.pollFirst();
      s.conn = target;
      target.enqueue(s);
    }
  }

  @Override
  public void drain() {
    draining = true;
    for (Conn c : new ArrayList<>(conns)) {
      c.goingAway = true;
      if (c.active == 0 && c.channel != null) {
        c.channel.close();
      }
    }
  }

  @Override
  public int connections() {
    return conns.size();
  }

  private final class Conn {
    private Channel channel;
    private SslHandler ssl;
    private Codec codec;
    private boolean ready;
    private boolean goingAway;
    private int active;
    private long maxStreams = Math.max(1, cluster.http2MaxConcurrentStreams());
    private final List<Stream> pending = new ArrayList<>();
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
              .initialWindowSize(cluster.http2InitialStreamWindowSize())
              .maxHeaderListSize(cluster.maxResponseHeadersBytes());
      codec = Codec.create(this, settings);
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
                      ch.pipeline().addLast("h2", codec); // flushes its writes together itself
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
        codec.growConnectionWindow(cluster.http2InitialConnectionWindowSize());
        ready = true;
        List<Stream> ready = new ArrayList<>(pending);
        pending.clear();
        for (Stream s : ready) {
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
        List<Stream> failed = new ArrayList<>(pending);
        pending.clear();
        failed.addAll(Http2ConnPool.this.waiting);
        Http2ConnPool.this.waiting.clear();
        for (Stream s : failed) {
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

    Stream request(UpstreamCallbacks cb) {
      Stream s = new Stream(this, cb);
      enqueue(s);
      return s;
    }

    void enqueue(Stream s) {
      if (ready) {
        open(s);
      } else {
        pending.add(s);
      }
    }

    void open(Stream s) {
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
      s.opened = true;
      s.cb.onReady(s, host);
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

    void onSettings(Http2Settings settings) {
      Long m = settings.maxConcurrentStreams();
      if (m != null) {
        maxStreams = Math.max(1, Math.min(m, cluster.http2MaxConcurrentStreams()));
      }
    }

    void onGoAway() {
      goingAway = true;
      conns.remove(this);
    }

    void detach() {
      conns.remove(this);
    }

    /** The connection closed; Netty has closed (and we have failed) its streams just before. */
    void onInactive() {
      releaseConnection();
      stats.upstreamCxActive.dec();
      stats.upstreamCxDestroy.inc();
      host.activeConnections.decrementAndGet();
      if (connectedAt != 0) {
        stats.upstreamCxLengthMs.record((System.nanoTime() - connectedAt) / 1_000_000);
      }
      serveWaiting();
    }
  }

  /** One upstream HTTP/2 connection's codec: Netty's connection handler calling the pool's streams. */
  private static final class Codec extends Http2Codec<Stream> {
    private final Conn conn;

    private Codec(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings, Conn conn) {
      super(decoder, encoder, settings);
      this.conn = conn;
    }

    static Codec create(Conn conn, Http2Settings settings) {
      return new Builder<Codec>(false, settings, (d, e, s) -> new Codec(d, e, s, conn)).build();
    }

    @Override
    protected void streamClosed(Stream s) {
      s.onClosed();
    }

    /**
     * What the upstream sent broke the protocol on one stream (a header list over
     * max_response_headers_kb, malformed headers, a bad frame): the stream fails as an upstream
     * protocol error, as Envoy's codec reports it, when Netty resets and closes it.
     */
    @Override
    protected void onStreamError(ChannelHandlerContext ctx, boolean outbound, Throwable cause, Http2Exception.StreamException e) {
      Stream s = outbound ? null : attached(e.streamId());
      if (s != null) {
        s.protocolError = true;
      }
      super.onStreamError(ctx, outbound, cause, e);
    }

    @Override
    protected void writabilityChanged(Stream s, boolean writable) {
      s.onWritabilityChanged(writable);
    }

    /** Writes a new stream's request headers; returns the stream's id, or 0 when it could not open. */
    int openStream(Stream s, Http2Headers headers, boolean endStream) {
      int id = connection().local().incrementAndGetNextStreamId();
      if (id < 0) {
        return 0; // stream ids exhausted: the connection must be replaced
      }
      writeHeaders(id, headers, endStream); // creates Netty's stream; the flush comes later
      return attach(id, s) ? id : 0;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      conn.detach(); // no new stream picks this connection while its streams fail
      super.channelInactive(ctx); // closes the streams: each fails with connection termination
      conn.onInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
      if (Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null) {
        super.exceptionCaught(ctx, cause); // GOAWAY with the error, then close
      } else {
        ctx.close();
      }
    }

    @Override
    public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream) {
      Stream s = attached(streamId);
      if (s != null) {
        s.onHeaders(headers, endStream);
      }
    }

    @Override
    public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
      Stream s = attached(streamId);
      if (s == null) {
        return data.readableBytes() + padding;
      }
      return padding + s.onData(data.retain(), endOfStream);
    }

    @Override
    public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
      Stream s = attached(streamId);
      if (s != null) {
        s.onRemoteReset(errorCode);
      }
    }

    @Override
    public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {
      conn.onSettings(settings);
    }

    @Override
    public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode, ByteBuf debugData) {
      conn.onGoAway();
    }
  }

  /** One upstream stream: the router's handle on it, attached to Netty's stream state once open. */
  private final class Stream implements UpstreamStream, Cancellable {
    private Conn conn;
    private boolean holdsPending;
    private UpstreamCallbacks cb;
    /** Counted in the connection's active streams (after onReady). */
    private boolean opened;
    /** The HTTP/2 stream id, 0 until the request headers are written. */
    private int id;
    private boolean closed;
    private boolean responseStarted;
    private boolean finished;
    /** The upstream broke the protocol on this stream; its close is a protocol error. */
    private boolean protocolError;
    private boolean readDisabled;
    private int unconsumed;

    Stream(Conn conn, UpstreamCallbacks cb) {
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
    public java.net.InetSocketAddress localAddress() {
      return conn == null || conn.channel == null ? null : (java.net.InetSocketAddress) conn.channel.localAddress();
    }

    @Override
    public java.net.InetSocketAddress remoteAddress() {
      return conn == null || conn.channel == null ? null : (java.net.InetSocketAddress) conn.channel.remoteAddress();
    }

    @Override
    public void cancel() {
      cb = null;
      if (waiting.remove(this) || (conn != null && conn.pending.remove(this))) {
        releasePending();
      }
      abandon(Http2Error.CANCEL);
    }

    /** Resets the stream if it is open; a stream never written is closed here. */
    private void abandon(Http2Error error) {
      if (!opened || closed) {
        return;
      }
      if (id == 0) {
        onClosed();
      } else {
        conn.codec.writeReset(id, error);
      }
    }

    /** Netty closed the stream (both ends done, a reset, or the connection closed). */
    void onClosed() {
      if (closed) {
        return;
      }
      closed = true;
      conn.streamClosed();
      UpstreamCallbacks c = cb;
      cb = null;
      if (c != null && !finished) {
        c.onReset(protocolError ? UpstreamCallbacks.Reason.PROTOCOL_ERROR : UpstreamCallbacks.Reason.CONNECTION_TERMINATION);
      }
    }

    @Override
    public void writeHeaders(Http2Headers headers, boolean endStream) {
      if (closed) {
        return;
      }
      if (headers.method() != null && AsciiString.contentEquals(headers.method(), "CONNECT") && headers.path() == null) {
        // A CONNECT carries only :method and :authority (RFC 9113 §8.5).
        headers.remove(Http2Headers.PseudoHeaderName.SCHEME.value());
      } else if (headers.scheme() == null) {
        headers.scheme(HTTP);
      }
      HeaderUtil.sanitizeHttp2(headers);
      if (id != 0) {
        conn.codec.writeHeaders(id, headers, endStream);
        return;
      }
      id = conn.codec.openStream(this, headers, endStream);
      if (id == 0) {
        // Netty refused the stream (ids exhausted, or the connection is closing): a local reset.
        UpstreamCallbacks c = cb;
        cb = null;
        onClosed();
        if (c != null) {
          c.onReset(UpstreamCallbacks.Reason.LOCAL_RESET);
        }
      }
    }

    @Override
    public void writeData(ByteBuf data, boolean endStream) {
      if (closed || id == 0) {
        data.release();
        return;
      }
      stats.upstreamCxTxBytesTotal.add(data.readableBytes());
      conn.codec.writeData(id, data, endStream);
    }

    @Override
    public void writeTrailers(Http2Headers trailers) {
      if (closed || id == 0) {
        return;
      }
      conn.codec.writeHeaders(id, trailers, true);
    }

    @Override
    public void reset() {
      cb = null;
      abandon(Http2Error.CANCEL);
    }

    @Override
    public void readDisable(boolean disable) {
      readDisabled = disable;
      if (!disable && unconsumed > 0 && id != 0 && !closed) {
        int n = unconsumed;
        unconsumed = 0;
        conn.codec.consume(id, n);
      }
    }

    @Override
    public boolean isWritable() {
      if (closed || conn == null || conn.channel == null) {
        return false;
      }
      return id == 0 ? conn.channel.isWritable() : conn.codec.isWritable(id);
    }

    void onWritabilityChanged(boolean writable) {
      UpstreamCallbacks c = cb;
      if (c != null) {
        c.onWritabilityChanged(writable);
      }
    }

    void onHeaders(Http2Headers h, boolean endStream) {
      UpstreamCallbacks c = cb;
      if (c == null) {
        return;
      }
      if (h.size() - (h.status() != null ? 1 : 0) > cluster.maxResponseHeadersCount()) {
        // More fields than the cluster's max_headers_count: a protocol error, as Envoy's codec.
        cb = null;
        abandon(Http2Error.PROTOCOL_ERROR);
        c.onReset(UpstreamCallbacks.Reason.PROTOCOL_ERROR);
        return;
      }
      if (!responseStarted) {
        CharSequence status = h.status();
        if (status != null && status.length() == 3 && status.charAt(0) == '1') {
          return; // interim response
        }
        responseStarted = true;
        finished |= endStream;
        c.onHeaders(HeaderUtil.sanitizeHttp2(h), endStream);
      } else {
        finished = true;
        c.onTrailers(h);
      }
    }

    /** Delivers response body bytes (owned by the callee); returns how many go back to the window now. */
    int onData(ByteBuf data, boolean endStream) {
      int bytes = data.readableBytes();
      UpstreamCallbacks c = cb;
      if (c == null) {
        data.release();
        return bytes;
      }
      stats.upstreamCxRxBytesTotal.add(bytes);
      finished |= endStream;
      c.onData(data, endStream);
      if (readDisabled) {
        unconsumed += bytes;
        return 0;
      }
      return bytes;
    }

    void onRemoteReset(long errorCode) {
      UpstreamCallbacks c = cb;
      cb = null;
      if (c != null && !finished) {
        c.onReset(
            errorCode == Http2Error.REFUSED_STREAM.code()
                ? UpstreamCallbacks.Reason.REMOTE_REFUSED_STREAM_RESET
                : UpstreamCallbacks.Reason.REMOTE_RESET);
      }
    }
  }
}

package io.legate.upstream.pool;

import io.legate.http.HttpHeaderNames;
import io.legate.http.codec.Http1Wire;
import io.legate.tls.TlsErrors;
import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * HTTP/1.1 connections to one host on one worker: one request at a time per connection, idle
 * connections kept for reuse (keep-alive), closed after the cluster's idle timeout.
 */
public final class Http1ConnPool implements ConnPool {
  private final EventLoop loop;
  private final String sni;
  private final Host host;
  private final ClusterInfo cluster;
  private final ClusterStats stats;
  private final CircuitBreakers.ResourceManager resources;
  private final ArrayDeque<Conn> idle = new ArrayDeque<>();
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private int open;
  private int connecting;
  private boolean draining;

  public Http1ConnPool(EventLoop loop, Host host, ClusterInfo cluster) {
    this(loop, host, cluster, cluster.circuitBreakers().forPriority(CircuitBreakers.Priority.DEFAULT));
  }

  /** Creates a pool whose streams and connections count against {@code resources}. */
  public Http1ConnPool(EventLoop loop, Host host, ClusterInfo cluster, CircuitBreakers.ResourceManager resources) {
    this(loop, host, cluster, resources, null);
  }

  /** Creates a pool whose TLS connections send {@code sni} (auto_sni; null: the transport socket's). */
  public Http1ConnPool(EventLoop loop, Host host, ClusterInfo cluster, CircuitBreakers.ResourceManager resources, String sni) {
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
   * <p>An idle connection is used at once (returning null: the callback has already run); else the
   * stream waits in the pending queue ({@code max_pending_requests}, else overflow) and a new
   * connection opens unless {@code max_connections} is reached ({@code upstream_cx_overflow}; the
   * stream then waits for a connection to come free). A stream is attached only while {@code
   * max_requests} allows (else overflow). Overflow fails the stream with {@link
   * UpstreamCallbacks.Reason#OVERFLOW} and counts {@code upstream_rq_pending_overflow}.
   */
  @Override
  public Cancellable newStream(UpstreamCallbacks callbacks) {
    assert loop.inEventLoop();
    while (!idle.isEmpty()) {
      Conn c = idle.pollLast();
      if (c.channel.isActive()) {
        c.attach(callbacks);
        return null;
      }
    }
    if (!resources.pendingRequests().tryAcquire()) {
      overflow(callbacks);
      return null;
    }
    Pending p = new Pending(callbacks);
    pending.addLast(p);
    connectForPending();
    return p;
  }

  private void overflow(UpstreamCallbacks callbacks) {
    stats.upstreamRqPendingOverflow.inc();
    callbacks.onPoolFailure(UpstreamCallbacks.Reason.OVERFLOW, null, host);
  }

  /** Gives a free connection to the next pending stream, if any; returns false if none waits. */
  private boolean serveNext(Conn c) {
    Pending p = pending.pollFirst();
    if (p == null) {
      return false;
    }
    resources.pendingRequests().release();
    c.attach(p.callbacks);
    return true;
  }

  /** Fails every pending stream (a connection could not be made), as Envoy's purge. */
  private void purgePending(UpstreamCallbacks.Reason reason, String details) {
    ArrayDeque<Pending> waiting = new ArrayDeque<>(pending);
    pending.clear();
    for (Pending p : waiting) {
      resources.pendingRequests().release();
      p.callbacks.onPoolFailure(reason, details, host);
    }
  }

  @Override
  public void drain() {
    draining = true;
    while (!idle.isEmpty()) {
      idle.poll().channel.close();
    }
  }

  @Override
  public int connections() {
    return open;
  }

  /** Returns the number of streams waiting for a connection. */
  public int pendingStreams() {
    return pending.size();
  }

  private final class Pending implements Cancellable {
    final UpstreamCallbacks callbacks;

    Pending(UpstreamCallbacks callbacks) {
      this.callbacks = callbacks;
    }

    @Override
    public void cancel() {
      if (pending.remove(this)) {
        resources.pendingRequests().release();
      }
    }
  }

  private void connectForPending() {
    while (connecting < pending.size()) {
      if (resources.connections().tryAcquire()) {
        new Conn().connect();
        continue;
      }
      stats.upstreamCxOverflow.inc();
      if (open == 0) {
        // Envoy opens a first connection even at the limit, so that the queue can drain.
        resources.connections().forceAcquire();
        new Conn().connect();
      }
      return;
    }
  }

  private static final AsciiString UPGRADE_VALUE = AsciiString.cached("upgrade");
  private static final AsciiString CHUNKED_VALUE = AsciiString.cached("chunked");

  /**
   * Returns a request's head in HTTP/1.1: request line, host from {@code :authority}, the regular
   * headers of {@code h} but hop-by-hop ones and {@code te}, then the connection's own framing:
   * {@code connection: upgrade} and {@code upgrade} for an upgrade, or {@code transfer-encoding:
   * chunked}.
   */
  static ByteBuf requestHead(
      io.netty.buffer.ByteBufAllocator alloc,
      Http2Headers h,
      CharSequence method,
      CharSequence target,
      CharSequence authority,
      CharSequence upgrade,
      boolean chunked) {
    int size = 64;
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      size += e.getKey().length() + e.getValue().length() + 4;
    }
    ByteBuf out = alloc.buffer(size);
    Http1Wire.writeRequestLine(out, method, target == null ? "/" : target);
    if (authority != null) {
      Http1Wire.writeHeader(out, HttpHeaderNames.HOST, authority);
    }
    Http1Wire.writeRequestHeaders(out, h, authority != null);
    if (upgrade != null) {
      Http1Wire.writeHeader(out, HttpHeaderNames.CONNECTION, UPGRADE_VALUE);
      Http1Wire.writeHeader(out, HttpHeaderNames.UPGRADE, upgrade);
    } else if (chunked) {
      Http1Wire.writeHeader(out, HttpHeaderNames.TRANSFER_ENCODING, CHUNKED_VALUE);
    }
    Http1Wire.endHeaders(out);
    return out;
  }

  private final class Conn extends ChannelInboundHandlerAdapter implements UpstreamStream {
    @Override
    public java.net.InetSocketAddress localAddress() {
      io.netty.channel.Channel c = channel;
      return c == null ? null : (java.net.InetSocketAddress) c.localAddress();
    }

    @Override
    public java.net.InetSocketAddress remoteAddress() {
      io.netty.channel.Channel c = channel;
      return c == null ? null : (java.net.InetSocketAddress) c.remoteAddress();
    }

    private Channel channel;
    private SslHandler ssl;
    private UpstreamCallbacks cb;
    private boolean connected;
    private boolean requestComplete;
    private boolean responseComplete = true;
    private boolean responseKeepAlive;
    private boolean headRequest;
    private boolean closing;
    private long requests;
    private long connectStartNanos;
    private long connectedNanos;
    private long idleSinceNanos;
    private boolean idleTimerArmed;
    private boolean holdsRequest;
    private boolean cxReleased;
    /**
     * The upgrade the request in progress asks for ("connect" for CONNECT, else the Upgrade value,
     * lowercase), or null. Such a connection never goes back to the pool.
     */
    private String upgradeType;
    /** Whether the connection is a tunnel: the codec is gone and bytes pass through raw. */
    private boolean tunnel;
    /** Whether the request body in progress is sent chunked. */
    private boolean chunked;
    private final Http1ResponseDecoder decoder =
        new Http1ResponseDecoder(4096, cluster.maxResponseHeadersBytes(), cluster.maxResponseHeadersCount());

    void connect() {
      connecting++;
      connectStartNanos = System.nanoTime();
      stats.upstreamCxTotal.inc();
      stats.upstreamCxHttp1Total.inc();
      stats.upstreamCxActive.inc();
      host.cxTotal.increment();
      host.activeConnections.incrementAndGet();
      open++;
      ChannelFuture f =
          UpstreamConnections.pooledBootstrap(loop, cluster)
              .handler(
                  new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      if (cluster.tls() != null) {
                        ssl = cluster.tls().newHandler(ch.alloc(), host.address(), false, sni);
                        ch.pipeline().addLast("ssl", ssl);
                      }
                      ch.pipeline().addLast("flush", io.legate.http.codec.HttpServerPipeline.flushConsolidation());
                      ch.pipeline().addLast("codec", decoder);
                      ch.pipeline().addLast("legate-h1-upstream", Conn.this);
                    }
                  })
              .connect(host.address());
      channel = f.channel();
      f.addListener(
          fut -> {
            if (fut.isSuccess() && ssl != null) {
              // Connected once the TLS handshake is done, as Envoy.
              ssl.handshakeFuture().addListener(hs -> onConnect(hs.isSuccess(), hs.cause(), true));
            } else {
              onConnect(fut.isSuccess(), fut.cause(), false);
            }
          });
    }

    private void onConnect(boolean success, Throwable failure, boolean tls) {
            connecting--;
            if (success) {
              connected = true;
              if (tls) {
                cluster.tls().stats().handshake.inc();
              }
              connectedNanos = System.nanoTime();
              stats.upstreamCxConnectMs.record((connectedNanos - connectStartNanos) / 1_000_000);
              free();
            } else {
              Throwable cause = failure;
              boolean timeout = UpstreamConnections.recordConnectFailure(stats, host, cause);
              if (tls) {
                // The connection was up: channelInactive settles the active counts and the breaker.
                cluster.tls().stats().connectionError.inc();
                closing = true;
                channel.close();
              } else {
                stats.upstreamCxActive.dec();
                host.activeConnections.decrementAndGet();
                open--;
                releaseConnection();
              }
              purgePending(
                  timeout ? UpstreamCallbacks.Reason.CONNECTION_TIMEOUT : UpstreamCallbacks.Reason.CONNECTION_FAILURE,
                  tls ? TlsErrors.transportFailureReason(cause) : cause == null ? null : cause.getMessage());
            }
    }

    void attach(UpstreamCallbacks callbacks) {
      if (!resources.requests().tryAcquire()) {
        overflow(callbacks);
        free();
        return;
      }
      holdsRequest = true;
      this.cb = callbacks;
      callbacks.onReady(this, host);
    }

    /** The connection is free: it serves the next pending stream or goes idle. */
    void free() {
      if (!serveNext(this)) {
        toIdle();
      }
    }

    /** The attached stream is over: gives back its max_requests unit. */
    private void streamEnded() {
      if (holdsRequest) {
        holdsRequest = false;
        resources.requests().release();
      }
    }

    private void releaseConnection() {
      if (!cxReleased) {
        cxReleased = true;
        resources.connections().release();
      }
    }

    private void toIdle() {
      if (draining || closing || !channel.isActive()) {
        channel.close();
        return;
      }
      idleSinceNanos = System.nanoTime();
      idle.addLast(this);
      long timeout = cluster.idleTimeoutMs();
      if (timeout > 0 && !idleTimerArmed) {
        armIdleTimer(timeout);
      }
    }

    /**
     * One idle timer per connection, re-armed lazily: going idle only arms it when none is pending
     * (a timer per request would pile up in the event loop's queue for the whole idle timeout, one
     * hour by default); when it fires it closes the connection if it has been idle long enough, waits
     * out the rest if it went idle again since, and lets the next idle period re-arm it if busy.
     */
    private void armIdleTimer(long delayMs) {
      idleTimerArmed = true;
      loop.schedule(this::onIdleTimer, delayMs, TimeUnit.MILLISECONDS);
    }

    private void onIdleTimer() {
      idleTimerArmed = false;
      if (cb != null || !channel.isActive()) {
        return;
      }
      long timeout = cluster.idleTimeoutMs();
      long idleMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idleSinceNanos);
      if (idleMs >= timeout) {
        idle.remove(this);
        stats.upstreamCxIdleTimeout.inc();
        channel.close();
      } else {
        armIdleTimer(timeout - idleMs);
      }
    }

    // ------------------------------------------------------------ UpstreamStream

    @Override
    public void writeHeaders(Http2Headers h, boolean endStream) {
      requests++;
      requestComplete = endStream;
      responseComplete = false;
      responseKeepAlive = true;
      CharSequence method = h.method();
      headRequest = AsciiString.contentEquals(method, "HEAD");
      boolean connect = AsciiString.contentEquals(method, "CONNECT");
      CharSequence upgrade = connect ? null : h.get(HttpHeaderNames.UPGRADE);
      CharSequence authority = h.authority();
      CharSequence path = h.path();
      // CONNECT's request target is its authority (RFC 9112 §3.2.3).
      CharSequence target = connect && path == null ? authority : path;
      boolean hasLength = h.contains(HttpHeaderNames.CONTENT_LENGTH);
      chunked = false;
      if (connect || upgrade != null) {
        // The connection leaves HTTP if the upstream agrees; either way it is not reused.
        upgradeType = connect ? "connect" : upgrade.toString().trim().toLowerCase(java.util.Locale.ROOT);
        closing = true;
      } else if (!endStream && !hasLength) {
        chunked = true;
      }
      long max = cluster.maxRequestsPerConnection();
      if (max > 0 && requests >= max) {
        closing = true;
        stats.upstreamCxMaxRequests.inc();
      }
      decoder.expectResponse(headRequest, connect);
      ByteBuf out = requestHead(channel.alloc(), h, method, target, authority, upgrade, chunked);
      channel.writeAndFlush(out, channel.voidPromise());
    }

    @Override
    public void writeData(ByteBuf data, boolean endStream) {
      int size = data.readableBytes();
      stats.upstreamCxTxBytesTotal.add(size);
      if (upgradeType != null) {
        // Tunnel payload: raw bytes (the downstream sends none before the tunnel opens).
        if (data.isReadable()) {
          channel.writeAndFlush(data, channel.voidPromise());
        } else {
          data.release();
        }
        if (endStream) {
          requestComplete = true;
          if (tunnel) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> shutdownOutput());
          }
        }
        return;
      }
      if (chunked) {
        Http1Wire.writeChunk(channel, channel.alloc(), data, endStream);
        channel.flush();
      } else if (size > 0) {
        channel.writeAndFlush(data, channel.voidPromise());
      } else {
        data.release();
      }
      if (endStream) {
        requestComplete = true;
        maybeDone();
      }
    }

    private void shutdownOutput() {
      if (channel instanceof io.netty.channel.socket.DuplexChannel d && d.isActive()) {
        d.shutdownOutput();
      }
    }

    @Override
    public void writeTrailers(Http2Headers trailers) {
      requestComplete = true;
      if (chunked) {
        ByteBuf out = channel.alloc().buffer(256);
        Http1Wire.writeLastChunk(out, trailers);
        channel.writeAndFlush(out, channel.voidPromise());
      }
      // Else the body's length was given: trailers cannot be sent and are dropped.
      maybeDone();
    }

    @Override
    public void reset() {
      cb = null;
      streamEnded();
      closing = true;
      stats.upstreamCxDestroyLocal.inc();
      channel.close();
    }

    @Override
    public void readDisable(boolean disable) {
      channel.config().setAutoRead(!disable);
    }

    @Override
    public boolean isWritable() {
      return channel.isWritable();
    }

    // ------------------------------------------------------------ inbound

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      UpstreamCallbacks c = cb;
      if (c == null) {
        if (msg instanceof Http1ResponseDecoder.Last last) {
          last.data.release();
        } else if (msg instanceof Http1ResponseDecoder.Head || msg == Http1ResponseDecoder.FAILURE) {
          // A response nobody asked for: the connection is out of step.
          closing = true;
          channel.close();
        }
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof ByteBuf b) {
        // Body bytes, or the tunnel's raw bytes.
        if (b.isReadable()) {
          stats.upstreamCxRxBytesTotal.add(b.readableBytes());
          c.onData(b, false);
        } else {
          b.release();
        }
      } else if (msg instanceof Http1ResponseDecoder.Head head) {
        onHead(c, head);
      } else if (msg instanceof Http1ResponseDecoder.Last last) {
        onLast(c, last);
      } else if (msg == Http1ResponseDecoder.FAILURE) {
        failStream(UpstreamCallbacks.Reason.PROTOCOL_ERROR);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    private void onHead(UpstreamCallbacks c, Http1ResponseDecoder.Head r) {
      int code = r.status;
      Http2Headers h = r.headers;
      if (upgradeType != null
          && (upgradeType.equals("connect") ? code >= 200 && code < 300 : code == 101)) {
        // The tunnel opens: the codec leaves the pipeline and what follows is raw bytes (any the
        // decoder held come next, through channelRead).
        if (r.upgrade != null && !upgradeType.equals("connect")) {
          h.set(HttpHeaderNames.UPGRADE, r.upgrade);
          h.set(HttpHeaderNames.CONNECTION, UPGRADE_VALUE);
        }
        if (upgradeType.equals("connect")) {
          h.remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        tunnel = true;
        c.onHeaders(h, false);
        if (cb == c && channel.pipeline().get("codec") != null) {
          channel.pipeline().remove("codec");
        }
        return;
      }
      if (code == 101) {
        // Switching protocols without having asked to.
        failStream(UpstreamCallbacks.Reason.PROTOCOL_ERROR);
        return;
      }
      responseKeepAlive = r.keepAlive;
      if (r.endStream) {
        responseComplete = true;
        c.onHeaders(h, true);
        maybeDone();
        return;
      }
      c.onHeaders(h, false);
    }

    private void onLast(UpstreamCallbacks c, Http1ResponseDecoder.Last last) {
      stats.upstreamCxRxBytesTotal.add(last.data.readableBytes());
      responseComplete = true;
      if (last.trailers == null) {
        c.onData(last.data, true);
      } else {
        c.onData(last.data, false);
        if (cb == c) {
          c.onTrailers(last.trailers);
        }
      }
      maybeDone();
    }

    /** Returns the connection to the pool once both directions are done. */
    private void maybeDone() {
      if (!responseComplete || cb == null) {
        return;
      }
      if (!requestComplete) {
        // Response finished before the request: the connection is in an unknown state.
        cb = null;
        streamEnded();
        closing = true;
        channel.close();
        return;
      }
      cb = null;
      streamEnded();
      channel.config().setAutoRead(true);
      if (!responseKeepAlive || closing) {
        closing = true;
        channel.close();
      } else {
        free();
      }
    }

    private void failStream(UpstreamCallbacks.Reason reason) {
      UpstreamCallbacks c = cb;
      cb = null;
      streamEnded();
      closing = true;
      channel.close();
      if (c != null) {
        c.onReset(reason);
      }
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
      open--;
      idle.remove(this);
      stats.upstreamCxActive.dec();
      stats.upstreamCxDestroy.inc();
      host.activeConnections.decrementAndGet();
      if (connectedNanos != 0) {
        stats.upstreamCxLengthMs.record((System.nanoTime() - connectedNanos) / 1_000_000);
      }
      if (!closing) {
        stats.upstreamCxDestroyRemote.inc();
      }
      releaseConnection();
      UpstreamCallbacks c = cb;
      cb = null;
      streamEnded();
      if (c != null && tunnel) {
        // The upstream closed its tunnel: the response ends (what was read has been passed on).
        c.onData(Unpooled.EMPTY_BUFFER, true);
      } else if (c != null && connected) {
        c.onReset(UpstreamCallbacks.Reason.CONNECTION_TERMINATION);
      }
      connectForPending();
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      failStream(UpstreamCallbacks.Reason.CONNECTION_TERMINATION);
    }
  }
}

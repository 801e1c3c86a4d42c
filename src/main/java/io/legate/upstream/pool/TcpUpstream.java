package io.legate.upstream.pool;

import io.legate.tls.TlsErrors;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;

/**
 * A terminated CONNECT's upstream (Envoy's {@code TcpUpstream}): one new TCP connection to the host
 * per request, no HTTP on it. The request headers are not sent; once the connection is up the
 * stream answers itself with a 200, and from then on request body bytes are written raw and bytes
 * read become response body. The upstream closing its side ends the response. Worker-confined.
 */
public final class TcpUpstream extends ChannelInboundHandlerAdapter implements UpstreamStream, ConnPool.Cancellable {
  private static final AsciiString OK = AsciiString.cached("200");

  private final EventLoop loop;
  private final Host host;
  private final ClusterInfo cluster;
  private final ClusterStats stats;
  private UpstreamCallbacks cb;
  private Channel channel;
  private SslHandler ssl;
  private boolean connected;
  /** Whether the TCP connection came up (its close settles the connection counts). */
  private boolean tcpUp;
  private boolean closing;
  private long connectStartNanos;
  private long connectedNanos;

  private TcpUpstream(EventLoop loop, Host host, ClusterInfo cluster, UpstreamCallbacks callbacks) {
    this.loop = loop;
    this.host = host;
    this.cluster = cluster;
    this.stats = cluster.stats();
    this.cb = callbacks;
  }

  /**
   * Opens a connection to {@code host} for one tunnel. {@link UpstreamCallbacks#onReady} follows
   * when it is up (after the TLS handshake when the cluster has TLS), else {@link
   * UpstreamCallbacks#onPoolFailure}. The returned handle cancels the attempt.
   */
  public static ConnPool.Cancellable open(EventLoop loop, Host host, ClusterInfo cluster, UpstreamCallbacks callbacks) {
    assert loop.inEventLoop();
    TcpUpstream t = new TcpUpstream(loop, host, cluster, callbacks);
    t.connect();
    return t;
  }

  private void connect() {
    connectStartNanos = System.nanoTime();
    stats.upstreamCxTotal.inc();
    stats.upstreamCxActive.inc();
    host.cxTotal.increment();
    host.activeConnections.incrementAndGet();
    ChannelFuture f =
        UpstreamConnections.pooledBootstrap(loop, cluster)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    if (cluster.tls() != null) {
                      ssl = cluster.tls().newHandler(ch.alloc(), host.address(), false);
                      ch.pipeline().addLast("ssl", ssl);
                    }
                    ch.pipeline().addLast("legate-tcp-upstream", TcpUpstream.this);
                  }
                })
            .connect(host.address());
    channel = f.channel();
    f.addListener(
        fut -> {
          tcpUp = fut.isSuccess();
          if (fut.isSuccess() && ssl != null) {
            ssl.handshakeFuture().addListener(hs -> onConnect(hs.isSuccess(), hs.cause(), true));
          } else {
            onConnect(fut.isSuccess(), fut.cause(), false);
          }
        });
  }

  private void onConnect(boolean success, Throwable cause, boolean tls) {
    UpstreamCallbacks c = cb;
    if (success) {
      connected = true;
      connectedNanos = System.nanoTime();
      stats.upstreamCxConnectMs.record((connectedNanos - connectStartNanos) / 1_000_000);
      if (tls) {
        cluster.tls().stats().handshake.inc();
      }
      if (c == null) {
        closing = true;
        channel.close();
        return;
      }
      c.onReady(this, host);
      return;
    }
    boolean timeout = UpstreamConnections.recordConnectFailure(stats, host, cause);
    closing = true;
    if (tls) {
      cluster.tls().stats().connectionError.inc();
    }
    if (tcpUp) {
      channel.close(); // channelInactive settles the counts
    } else {
      stats.upstreamCxActive.dec();
      host.activeConnections.decrementAndGet();
    }
    cb = null;
    if (c != null) {
      c.onPoolFailure(
          timeout ? UpstreamCallbacks.Reason.CONNECTION_TIMEOUT : UpstreamCallbacks.Reason.CONNECTION_FAILURE,
          tls ? TlsErrors.transportFailureReason(cause) : cause == null ? null : cause.getMessage(),
          host);
    }
  }

  // ------------------------------------------------------------ Cancellable

  @Override
  public void cancel() {
    cb = null;
    if (connected) {
      closing = true;
      channel.close();
    }
  }

  // ------------------------------------------------------------ UpstreamStream

  /** Sends nothing: the tunnel is open, so the stream answers 200 itself. */
  @Override
  public void writeHeaders(Http2Headers headers, boolean endStream) {
    UpstreamCallbacks c = cb;
    if (c != null) {
      c.onHeaders(new DefaultHttp2Headers(false, 1).status(OK), false);
    }
    if (endStream && cb != null) {
      writeData(Unpooled.EMPTY_BUFFER, true);
    }
  }

  @Override
  public void writeData(ByteBuf data, boolean endStream) {
    if (data.isReadable() && channel.isActive()) {
      stats.upstreamCxTxBytesTotal.add(data.readableBytes());
      channel.writeAndFlush(data);
    } else {
      data.release();
    }
    if (endStream && channel instanceof io.netty.channel.socket.DuplexChannel d && d.isActive()) {
      channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
    }
  }

  @Override
  public void writeTrailers(Http2Headers trailers) {
    writeData(Unpooled.EMPTY_BUFFER, true);
  }

  @Override
  public void reset() {
    cb = null;
    if (!closing) {
      closing = true;
      stats.upstreamCxDestroyLocal.inc();
    }
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
    if (c == null || !(msg instanceof ByteBuf b)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    stats.upstreamCxRxBytesTotal.add(b.readableBytes());
    c.onData(b, false);
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
    if (tcpUp) {
      stats.upstreamCxActive.dec();
      stats.upstreamCxDestroy.inc();
      host.activeConnections.decrementAndGet();
      if (!closing) {
        stats.upstreamCxDestroyRemote.inc();
      }
      if (connectedNanos != 0) {
        stats.upstreamCxLengthMs.record((System.nanoTime() - connectedNanos) / 1_000_000);
      }
    }
    UpstreamCallbacks c = cb;
    cb = null;
    if (c != null && connected) {
      // The upstream closed the tunnel: the response ends.
      c.onData(Unpooled.EMPTY_BUFFER, true);
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}

package io.legate.network.tcpproxy;

import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.legate.upstream.LoadBalancer;
import io.legate.upstream.pool.UpstreamConnections;
import io.legate.upstream.pool.WorkerClusters;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Relays a downstream connection to an upstream host byte for byte (Envoy's tcp_proxy): reading
 * pauses until the upstream connects, each side's writability gates the other's reads, half-close
 * is passed through, and the idle timeout closes both.
 */
public final class TcpProxyHandler extends ChannelInboundHandlerAdapter {
  private final TcpProxyConfig config;
  private Channel downstream;
  private Channel upstream;
  private ClusterStats clusterStats;
  private boolean upstreamPaused; // reading the upstream stopped: the downstream is not writable
  private boolean downstreamPaused; // reading the downstream stopped: the upstream is not writable
  private Host host;
  private int attempts;
  private boolean started;
  private boolean downstreamFin;
  private boolean upstreamFin;
  /** What the access log reports of this connection (null without access logs). */
  private io.legate.http.StreamInfo logInfo;
  private boolean logged;

  public TcpProxyHandler(TcpProxyConfig config) {
    this.config = config;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    downstream = ctx.channel();
    downstream.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    downstream.config().setAutoRead(false);
    config.downstreamCxTotal.inc();
    // The listener's connection-level info when it logs connections (Envoy's tcp_proxy writes
    // into the connection's stream info, which listener access logs read), else our own.
    logInfo = io.legate.network.DownstreamConnections.streamInfo(downstream);
    if (!config.accessLogs.isEmpty()) {
      if (logInfo == null) {
        logInfo =
            new io.legate.http.StreamInfo(
                System.currentTimeMillis(),
                System.nanoTime(),
                (java.net.InetSocketAddress) downstream.remoteAddress(),
                (java.net.InetSocketAddress) downstream.localAddress(),
                null);
        logInfo.setDownstreamConnection(downstream);
      }
      downstream.closeFuture().addListener(f -> log());
    }
    if (config.idleTimeoutMs > 0) {
      ctx.pipeline().addBefore(ctx.name(), "tcp-idle", new IdleStateHandler(0, 0, config.idleTimeoutMs, TimeUnit.MILLISECONDS));
    }
    if (config.maxDurationMs > 0) {
      io.netty.util.concurrent.ScheduledFuture<?> t = downstream.eventLoop().schedule(() -> {
        if (downstream.isActive()) {
          config.maxDownstreamConnectionDurationReached.inc();
          closeBoth();
        }
      }, config.maxDurationMs, TimeUnit.MILLISECONDS);
      // Cancelled with the connection, or the task (and the channel it holds) stays queued until then.
      downstream.closeFuture().addListener(f -> t.cancel(false));
    }
    if (downstream.isActive()) {
      connect(); // the connection is already up (accepted, or after TLS termination)
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (!started) {
      connect();
    }
    ctx.fireChannelActive();
  }

  private void connect() {
    started = true;
    String name = config.pickCluster(ThreadLocalRandom.current().nextLong());
    Cluster cluster = config.clusterManager.get(name);
    if (cluster == null) {
      config.downstreamCxNoRoute.inc();
      flag(io.legate.http.ResponseFlag.NO_CLUSTER_FOUND);
      downstream.close();
      return;
    }
    ClusterInfo info = cluster.info();
    clusterStats = info.stats();
    WorkerClusters.Entry worker = WorkerClusters.current().get(cluster, downstream.eventLoop());
    host = worker.chooseHost(LoadBalancer.LbContext.NONE);
    if (logInfo != null) {
      logInfo.setUpstreamCluster(name);
    }
    if (host == null) {
      clusterStats.upstreamCxNoneHealthy.inc();
      flag(io.legate.http.ResponseFlag.NO_HEALTHY_UPSTREAM);
      downstream.close();
      return;
    }
    attempts++;
    if (logInfo != null) {
      logInfo.setUpstreamHost(host.addressString());
    }
    clusterStats.upstreamCxTotal.inc();
    clusterStats.upstreamCxActive.inc();
    host.cxTotal.increment();
    host.activeConnections.incrementAndGet();
    long start = System.nanoTime();
    UpstreamConnections.bootstrap(downstream.eventLoop(), info)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.AUTO_READ, false)
        .handler(new Upstream())
        .connect(host.address())
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (f.isSuccess()) {
                    upstream = f.channel();
                    if (logInfo != null) {
                      logInfo.setUpstreamAddresses(
                          (java.net.InetSocketAddress) upstream.localAddress(),
                          (java.net.InetSocketAddress) upstream.remoteAddress());
                    }
                    clusterStats.upstreamCxConnectMs.record((System.nanoTime() - start) / 1_000_000);
                    downstream.config().setAutoRead(true);
                    upstream.config().setAutoRead(true);
                    downstream.read();
                    upstream.read();
                  } else {
                    clusterStats.upstreamCxActive.dec();
                    host.activeConnections.decrementAndGet();
                    UpstreamConnections.recordConnectFailure(clusterStats, host, f.cause());
                    if (attempts < config.maxConnectAttempts && downstream.isActive()) {
                      connect();
                    } else {
                      flag(io.legate.http.ResponseFlag.UPSTREAM_CONNECTION_FAILURE);
                      downstream.close();
                    }
                  }
                });
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (upstream == null || !upstream.isActive()) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof ByteBuf b) {
      if (logInfo != null) {
        logInfo.addBytesReceived(b.readableBytes());
      }
      config.downstreamCxRxBytesTotal.add(b.readableBytes());
      clusterStats.upstreamCxTxBytesTotal.add(b.readableBytes());
    }
    upstream.writeAndFlush(msg);
    if (!upstream.isWritable()) {
      pauseDownstream(true);
    }
  }

  /**
   * Stops (or restarts) reading the upstream because the downstream's write buffer is over (back
   * under) its limit; counted as Envoy's tcp_proxy does, in the cluster's {@code
   * upstream_flow_control_paused_reading_total} / {@code _resumed_reading_total}.
   */
  private void pauseUpstream(boolean pause) {
    if (pause != upstreamPaused) {
      upstreamPaused = pause;
      (pause
              ? clusterStats.upstreamFlowControlPausedReadingTotal
              : clusterStats.upstreamFlowControlResumedReadingTotal)
          .inc();
    }
    upstream.config().setAutoRead(!pause);
  }

  /**
   * Stops (or restarts) reading the downstream because the upstream's write buffer is over (back
   * under) its limit: {@code tcp.<stat_prefix>.downstream_flow_control_paused_reading_total} / {@code
   * _resumed_reading_total}.
   */
  private void pauseDownstream(boolean pause) {
    if (pause != downstreamPaused) {
      downstreamPaused = pause;
      (pause ? config.downstreamFlowControlPausedReadingTotal : config.downstreamFlowControlResumedReadingTotal)
          .inc();
    }
    downstream.config().setAutoRead(!pause);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (upstream != null) {
      pauseUpstream(!downstream.isWritable());
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      // Downstream half-closed: pass the FIN on once our writes are out.
      downstreamFin = true;
      if (upstreamFin) {
        closeAfterFlush();
      } else if (upstream instanceof DuplexChannel d && upstream.isActive()) {
        upstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
      } else {
        ctx.close();
      }
      return;
    }
    if (evt instanceof IdleStateEvent) {
      config.idleTimeout.inc();
      closeBoth();
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (upstream != null) {
      upstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    closeBoth();
  }

  private void flag(io.legate.http.ResponseFlag f) {
    if (logInfo != null) {
      logInfo.addResponseFlag(f);
    }
  }

  /** Writes the connection's access log entries, once, when the downstream connection closes. */
  private void log() {
    if (logged || logInfo == null || config.accessLogs.isEmpty()) {
      return;
    }
    logged = true;
    for (io.legate.accesslog.AccessLog l : config.accessLogs) {
      l.log(logInfo);
    }
  }

  private void closeAfterFlush() {
    downstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    if (upstream != null) {
      upstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void closeBoth() {
    downstream.close();
    if (upstream != null) {
      upstream.close();
    }
  }

  /** The upstream side of the relay. */
  private final class Upstream extends ChannelInboundHandlerAdapter {
    private final long start = System.nanoTime();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf b) {
        if (logInfo != null) {
          logInfo.addBytesSent(b.readableBytes());
        }
        config.downstreamCxTxBytesTotal.add(b.readableBytes());
        clusterStats.upstreamCxRxBytesTotal.add(b.readableBytes());
      }
      downstream.writeAndFlush(msg);
      if (!downstream.isWritable()) {
        pauseUpstream(true);
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      pauseDownstream(!ctx.channel().isWritable());
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) {
        upstreamFin = true;
        if (downstreamFin) {
          closeAfterFlush();
        } else if (downstream instanceof DuplexChannel d && downstream.isActive()) {
          downstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
        } else {
          ctx.close();
        }
        return;
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      clusterStats.upstreamCxActive.dec();
      clusterStats.upstreamCxDestroy.inc();
      clusterStats.upstreamCxLengthMs.record((System.nanoTime() - start) / 1_000_000);
      host.activeConnections.decrementAndGet();
      downstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      closeBoth();
    }
  }
}

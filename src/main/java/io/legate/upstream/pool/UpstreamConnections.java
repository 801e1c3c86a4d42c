package io.legate.upstream.pool;

import io.legate.network.Transport;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;

/** What every upstream connection shares, whichever protocol it speaks: how it is opened and how a failed connect is counted. */
public final class UpstreamConnections {
  private UpstreamConnections() {}

  /** A bootstrap on the caller's worker with the cluster's connect timeout and {@code TCP_NODELAY}. */
  public static Bootstrap bootstrap(EventLoop loop, ClusterInfo cluster) {
    return new Bootstrap()
        .group(loop)
        .channel(Transport.clientChannel(loop))
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, cluster.connectTimeoutMs()))
        .option(ChannelOption.TCP_NODELAY, true);
  }

  /** {@link #bootstrap} plus write-buffer watermarks at the cluster's per-connection buffer limit. */
  static Bootstrap pooledBootstrap(EventLoop loop, ClusterInfo cluster) {
    int limit = cluster.perConnectionBufferLimitBytes();
    return bootstrap(loop, cluster).option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(limit / 2, limit));
  }

  /**
   * Counts a failed connect ({@code upstream_cx_connect_fail}, {@code upstream_cx_connect_timeout},
   * the host's connect failures) and returns whether it was a timeout.
   */
  public static boolean recordConnectFailure(ClusterStats stats, Host host, Throwable cause) {
    boolean timeout = cause instanceof ConnectTimeoutException;
    if (timeout) {
      stats.upstreamCxConnectTimeout.inc();
    }
    stats.upstreamCxConnectFail.inc();
    host.cxConnectFail.increment();
    return timeout;
  }
}

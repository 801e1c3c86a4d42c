package io.legate.admin;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.legate.stats.StatsStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Envoy's admin interface: a small HTTP/1.1 server on the main thread's event loop that serves
 * {@code /stats}, {@code /stats/prometheus}, {@code /clusters}, {@code /listeners}, {@code
 * /config_dump}, {@code /server_info}, {@code /ready}, {@code /healthcheck/fail|ok}, {@code
 * /quitquitquit}, {@code /logging} and friends in Envoy's formats.
 *
 * <p>The server only reads the running proxy through its {@link Context}; every request is served
 * on the admin event loop and never touches a worker.
 */
public final class AdminServer {
  private final AdminEndpoints endpoints;
  private volatile Channel channel;

  /** Creates an admin server that reads the running proxy through {@code context}. */
  public AdminServer(Context context) {
    this.endpoints = new AdminEndpoints(Objects.requireNonNull(context, "context"));
  }

  /**
   * Binds on {@code address} on {@code group} (the main thread's single loop) and returns the bound
   * address (port 0 picks a free port). The future fails with the bind error.
   */
  public CompletableFuture<InetSocketAddress> start(InetSocketAddress address, EventLoopGroup group) {
    return start(address, group, -1);
  }

  /**
   * Binds as {@link #start(InetSocketAddress, EventLoopGroup)}, or accepts on {@code inheritedFd},
   * a listening socket handed over by a hot restart's previous process (epoll only).
   */
  public CompletableFuture<InetSocketAddress> start(InetSocketAddress address, EventLoopGroup group, int inheritedFd) {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(group, "group");
    CompletableFuture<InetSocketAddress> result = new CompletableFuture<>();
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(group)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline()
                .addLast(new HttpServerCodec())
                .addLast(new HttpObjectAggregator(1 << 20))
                .addLast(new AdminHandler(endpoints));
          }
        });
    ChannelFuture bind;
    if (inheritedFd >= 0 && serverChannelClass(group) == EpollServerSocketChannel.class) {
      bootstrap.channelFactory(() -> new EpollServerSocketChannel(inheritedFd));
      bind = bootstrap.register();
    } else {
      bind = bootstrap.channel(serverChannelClass(group)).bind(address);
    }
    bind.addListener(f -> {
      if (f.isSuccess()) {
        channel = bind.channel();
        result.complete((InetSocketAddress) bind.channel().localAddress());
      } else {
        result.completeExceptionally(f.cause());
      }
    });
    return result;
  }

  /** Returns the listening socket's descriptor (for a hot restart), or -1. */
  public int listenFd() {
    return channel == null ? -1 : io.legate.network.Transport.fd(channel);
  }

  /** Closes the listening socket; connections in flight finish on their own. */
  public void stop() {
    Channel ch = channel;
    if (ch != null) {
      ch.close();
      channel = null;
    }
  }

  private static Class<? extends ServerChannel> serverChannelClass(EventLoopGroup group) {
    return io.legate.network.Transport.serverChannel(group);
  }

  /**
   * What the admin server reads from the running server; implemented by the server. All methods
   * are called on the admin event loop and must be cheap.
   */
  public interface Context {
    /** Returns the process's stats. */
    StatsStore stats();

    /** Returns the server state: {@code PRE_INITIALIZING}, {@code INITIALIZING}, {@code LIVE} or {@code DRAINING}. */
    String state();

    /** Returns the seconds since this process started. */
    long uptimeCurrentEpochSeconds();

    /** Returns the seconds since the first epoch started (equal to the current one without hot restart). */
    long uptimeAllEpochsSeconds();

    /** Returns the version string, e.g. {@code legate/0.1.0}. */
    String version();

    /**
     * Returns the command-line options keyed by the field names of {@code
     * envoy.admin.v3.CommandLineOptions} ({@code concurrency}, {@code config_path}, {@code
     * log_level}, {@code service_cluster}, {@code service_node}, {@code drain_time}, {@code mode},
     * ...). Values are numbers, booleans, strings (enums by name, durations as {@code "600s"}),
     * {@link java.time.Duration}s or lists of strings; unknown keys are ignored.
     */
    Map<String, Object> commandLineOptions();

    /** Returns the local node. */
    Node node();

    /** Returns the active listeners. */
    List<ListenerStatus> listeners();

    /** Returns the active clusters. */
    List<ClusterStatus> clusters();

    /**
     * Returns the config dump entries ({@code BootstrapConfigDump}, {@code ListenersConfigDump},
     * {@code ClustersConfigDump}, {@code RoutesConfigDump}, ...), in output order.
     */
    List<Message> configDump();

    /** Returns a registry that knows every type packed in an {@code Any} inside the config dump. */
    JsonFormat.TypeRegistry typeRegistry();

    /** Returns the certificates of the TLS contexts alive ({@code /certs}). */
    default io.envoyproxy.envoy.admin.v3.Certificates certs() {
      return io.envoyproxy.envoy.admin.v3.Certificates.getDefaultInstance();
    }

    /** Sets or clears the "health check failed" flag ({@code /healthcheck/fail}, {@code /healthcheck/ok}). */
    void setHealthCheckFailed(boolean failed);

    /** Returns whether health checks are set to fail. */
    boolean healthCheckFailed();

    /** Starts a graceful shutdown ({@code /quitquitquit}); must return quickly. */
    void quit();

    /** Sets the level of all loggers ({@code /logging?level=}); the level is one of Envoy's names. */
    void setLogLevel(String level);

    /** Returns the current level of each logger by name, for the {@code /logging} listing. */
    default Map<String, String> loggerLevels() {
      return Map.of();
    }

    /** Makes every access-log file writer reopen its file ({@code /reopen_logs}, for rotation). */
    default void reopenLogs() {
      io.legate.accesslog.AccessLogs.reopenAll();
    }

    /**
     * Stops the listeners accepting ({@code /drain_listeners}).
     *
     * @param inboundOnly only listeners whose {@code traffic_direction} is {@code INBOUND}
     * @param graceful let established connections finish for the drain time
     */
    default void drainListeners(boolean inboundOnly, boolean graceful) {}

    /** Returns the {@code EndpointsConfigDump} for {@code /config_dump?include_eds}, or null. */
    default Message endpointsConfigDump() {
      return null;
    }

    /**
     * Returns the runtime layers in order, each a name and its flattened values ({@code /runtime}):
     * the bootstrap's {@code layered_runtime} static layers.
     */
    default List<RuntimeLayer> runtimeLayers() {
      return List.of();
    }
  }

  /** A runtime layer: its name and its values keyed by dotted runtime key. */
  public record RuntimeLayer(String name, Map<String, String> values) {
    public RuntimeLayer {
      Objects.requireNonNull(name, "name");
      values = Map.copyOf(values);
    }
  }

  /** A listener and the address it is bound to. */
  public record ListenerStatus(String name, InetSocketAddress localAddress) {
    public ListenerStatus {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(localAddress, "localAddress");
    }
  }

  /** Circuit-breaker thresholds of one routing priority. */
  public record Thresholds(long maxConnections, long maxPendingRequests, long maxRequests, long maxRetries) {
    /** Envoy's defaults: 1024 connections, pending requests and requests, 3 retries. */
    public static final Thresholds DEFAULTS = new Thresholds(1024, 1024, 1024, 3);
  }

  /**
   * A cluster as {@code /clusters} shows it.
   *
   * @param observabilityName {@code alt_stat_name} or the name
   * @param edsServiceName the EDS service name, or empty
   */
  public record ClusterStatus(
      String name,
      String observabilityName,
      boolean addedViaApi,
      String edsServiceName,
      Thresholds defaultPriority,
      Thresholds highPriority,
      List<HostStatus> hosts,
      OutlierStatus outlier) {
    public ClusterStatus {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(observabilityName, "observabilityName");
      Objects.requireNonNull(edsServiceName, "edsServiceName");
      Objects.requireNonNull(defaultPriority, "defaultPriority");
      Objects.requireNonNull(highPriority, "highPriority");
      hosts = List.copyOf(hosts);
    }

    /** Creates a status without outlier detection. */
    public ClusterStatus(
        String name,
        String observabilityName,
        boolean addedViaApi,
        String edsServiceName,
        Thresholds defaultPriority,
        Thresholds highPriority,
        List<HostStatus> hosts) {
      this(name, observabilityName, addedViaApi, edsServiceName, defaultPriority, highPriority, hosts, null);
    }

    /** Creates a status with Envoy's default thresholds and the name as observability name. */
    public ClusterStatus(String name, boolean addedViaApi, List<HostStatus> hosts) {
      this(name, name, addedViaApi, "", Thresholds.DEFAULTS, Thresholds.DEFAULTS, hosts, null);
    }
  }

  /**
   * A cluster's outlier-detection figures of the last interval (Envoy's {@code
   * <cluster>::outlier::*} lines); -1 when not computed.
   */
  public record OutlierStatus(
      double successRateAverage,
      double successRateEjectionThreshold,
      double localOriginSuccessRateAverage,
      double localOriginSuccessRateEjectionThreshold) {}

  /**
   * A host of a cluster with Envoy's per-host stats.
   *
   * @param address {@code ip:port} ({@code [v6]:port} for IPv6)
   * @param healthFlags {@code healthy} or Envoy's flag string, e.g. {@code /failed_active_hc}
   */
  public record HostStatus(
      String address,
      String hostname,
      int weight,
      int priority,
      String region,
      String zone,
      String subZone,
      boolean canary,
      long cxTotal,
      long cxActive,
      long cxConnectFail,
      long rqTotal,
      long rqActive,
      long rqSuccess,
      long rqError,
      long rqTimeout,
      String healthFlags,
      double successRate,
      double localOriginSuccessRate) {
    public HostStatus {
      Objects.requireNonNull(address, "address");
      Objects.requireNonNull(hostname, "hostname");
      Objects.requireNonNull(region, "region");
      Objects.requireNonNull(zone, "zone");
      Objects.requireNonNull(subZone, "subZone");
      Objects.requireNonNull(healthFlags, "healthFlags");
    }

    /** Creates a status without success rates (-1: not computed). */
    public HostStatus(
        String address, String hostname, int weight, int priority, String region, String zone,
        String subZone, boolean canary, long cxTotal, long cxActive, long cxConnectFail,
        long rqTotal, long rqActive, long rqSuccess, long rqError, long rqTimeout, String healthFlags) {
      this(address, hostname, weight, priority, region, zone, subZone, canary, cxTotal, cxActive,
          cxConnectFail, rqTotal, rqActive, rqSuccess, rqError, rqTimeout, healthFlags, -1, -1);
    }

    /** Creates a status without region, sub-zone or canary flag. */
    public HostStatus(
        String address, String hostname, int weight, int priority, String zone, long cxTotal,
        long cxActive, long cxConnectFail, long rqTotal, long rqActive, long rqSuccess,
        long rqError, long rqTimeout, String healthFlags) {
      this(address, hostname, weight, priority, "", zone, "", false, cxTotal, cxActive,
          cxConnectFail, rqTotal, rqActive, rqSuccess, rqError, rqTimeout, healthFlags, -1, -1);
    }
  }
}

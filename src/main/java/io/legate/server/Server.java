package io.legate.server;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.BootstrapConfigDump;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.legate.admin.AdminServer;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.listener.ActiveListener;
import io.legate.listener.ListenerConfig;
import io.legate.listener.ListenerManager;
import io.legate.xds.XdsManager;
import io.legate.tls.SecretManager;
import io.legate.network.Transport;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.Host;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The whole proxy: config, clusters, listeners, workers, admin, lifecycle. One main thread (config,
 * DNS, admin) and {@code concurrency} workers that own connections.
 */
public final class Server {
  public static final String VERSION = "0.1.0";

  private final Options options;
  private final Bootstrap bootstrap;
  private final StatsStore stats;
  private List<io.legate.stats.StatsSink> sinks = List.of();
  private final long startMillis = System.currentTimeMillis();
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private ListenerManager listenerManager;
  private XdsManager xds;
  private SecretManager secrets;
  private final CompletableFuture<Integer> terminated = new CompletableFuture<>();
  private EventLoopGroup main;
  private EventLoopGroup workers;
  private ClusterManager clusterManager;
  private AdminServer admin;
  private HotRestart hotRestart;
  private InetSocketAddress adminAddress;
  private volatile String state = "PRE_INITIALIZING";
  private final ServerState serverState;
  private volatile boolean draining;

  private Server(Options options, Bootstrap bootstrap) {
    this.options = options;
    this.bootstrap = bootstrap;
    this.stats = new StatsStore(io.legate.stats.StatsOptions.from(bootstrap.getStatsConfig(), "stats_config"));
    this.serverState =
        new ServerState(
            options.serviceCluster().isEmpty()
                ? bootstrap.getNode().getCluster()
                : options.serviceCluster());
  }

  /** Loads and checks the config without binding anything (Envoy's {@code --mode validate}). */
  public static void validate(Options options) {
    Bootstrap b = ConfigLoader.loadBootstrap(options.configPath(), options.configYaml());
    Server s = new Server(options, b);
    EventLoopGroup loop = Transport.group(1, "legate-validate");
    try {
      s.main = loop;
      s.build(true);
    } finally {
      if (s.xds != null) {
        s.xds.shutdown();
      }
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
  }

  /** Loads the config and starts serving; returns once the server is LIVE. */
  public static Server start(Options options) {
    Bootstrap b = ConfigLoader.loadBootstrap(options.configPath(), options.configYaml());
    Server s = new Server(options, b);
    try {
      s.start0();
    } catch (RuntimeException e) {
      s.shutdownNow();
      throw e;
    }
    return s;
  }

  private List<ListenerConfig> build(boolean validateOnly) {
    secrets = new SecretManager(bootstrap.getStaticResources().getSecretsList(), "static_resources.secrets");
    serverState.setSecrets(secrets);
    io.legate.accesslog.AccessLogs.setLocalNode(node());
    serverState.setNodeId(node().getId());
    clusterManager = new ClusterManager(stats, main.next());
    clusterManager.setSecrets(secrets);
    if (bootstrap.hasOverloadManager()) {
      serverState.setOverload(new OverloadManager(bootstrap.getOverloadManager(), stats));
    }
    if (!validateOnly) {
      listenerManager =
          new ListenerManager(main, workers, connections, TimeUnit.SECONDS.toMillis(Math.max(0, options.drainTimeSeconds())), stats);
    }
    xds = new XdsManager(bootstrap, node(), stats, clusterManager, workers, listenerManager, validateOnly, serverState);
    clusterManager.addStaticClusters(bootstrap.getStaticResources().getClustersList(), "static_resources.clusters");
    xds.init();
    long flushMs = StatsSinks.flushIntervalMillis(bootstrap);
    sinks = StatsSinks.build(bootstrap, stats, clusterManager, main.next());
    if (validateOnly) {
      sinks.forEach(io.legate.stats.StatsSink::close);
    } else {
      // Flushed with or without sinks: each flush also ends the histograms' interval (admin /stats).
      List<io.legate.stats.StatsSink> all = sinks;
      main.next().scheduleAtFixedRate(() -> StatsSinks.flush(stats, all), flushMs, flushMs, TimeUnit.MILLISECONDS);
    }
    List<ListenerConfig> configs = new ArrayList<>();
    List<Listener> ls = bootstrap.getStaticResources().getListenersList();
    for (int i = 0; i < ls.size(); i++) {
      configs.add(new ListenerConfig(ls.get(i), "static_resources.listeners[" + i + "]", stats, clusterManager, serverState, xds::subscribeRds));
    }
    return configs;
  }

  private void start0() {
    Log.setLevel(options.logLevel());
    // A later hot-restart epoch adopts its parent's listening sockets, which only epoll can do.
    Transport transport =
        options.restartEpoch() > 0 && System.getProperty("legate.transport") == null
            ? Transport.EPOLL.available()
            : Transport.preferred();
    main = transport.newGroup(1, "legate-main");
    int concurrency = options.concurrency() > 0 ? options.concurrency() : Runtime.getRuntime().availableProcessors();
    workers = transport.newGroup(concurrency, "legate-worker");
    state = "INITIALIZING";
    List<ListenerConfig> configs = build(false);
    hotRestart = HotRestart.start(options, main, () -> this);
    if (hotRestart != null) {
      listenerManager.setInheritedSockets(hotRestart.inheritedSockets());
    }
    stats.gauge("server.concurrency").set(concurrency);
    stats.gauge("cluster_manager.active_clusters").set(clusterManager.clusters().size());
    if (bootstrap.hasAdmin() && bootstrap.getAdmin().hasAddress()) {
      InetSocketAddress a = ListenerConfig.socketAddress(bootstrap.getAdmin().getAddress(), "admin.address");
      admin = new AdminServer(new AdminContext());
      try {
        int fd = hotRestart == null ? -1 : hotRestart.inheritedSockets().inherited("admin", a);
        adminAddress = admin.start(a, main, fd).get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new ConfigException("admin.address", "cannot bind " + a + ": " + rootMessage(e));
      }
    }
    try {
      clusterManager.initialize().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      Log.warn("upstream", "cluster warming did not finish: " + rootMessage(e));
    }
    for (int i = 0; i < configs.size(); i++) {
      listenerManager.addStatic(configs.get(i), "static_resources.listeners[" + i + "]");
    }
    try {
      xds.start().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      Log.warn("config", "dynamic configuration did not initialize: " + rootMessage(e));
    }
    serverState.overload().start(main);
    stats.gauge("server.live").set(1);
    stats.gauge("server.state").set(0);
    stats.gauge("server.total_connections");
    main.scheduleAtFixedRate(
        () -> {
          stats.gauge("server.uptime").set((System.currentTimeMillis() - startMillis) / 1000);
          stats.gauge("server.total_connections").set(connections.size());
          stats.gauge("server.days_until_first_cert_expiring").set(secrets.daysUntilFirstCertExpiring());
        },
        0,
        1,
        TimeUnit.SECONDS);
    state = "LIVE";
    Log.info("main", "all listeners started; " + Transport.of(workers) + " transport, " + concurrency + " workers");
    if (hotRestart != null) {
      hotRestart.drainParent();
    }
  }

  /** Returns the admin listener's socket descriptor, for a hot restart to hand over; -1 if none. */
  int adminListenFd() {
    return admin == null ? -1 : admin.listenFd();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  // ---------------------------------------------------------------- lookup (tests, launcher)

  /** Returns the bound address of a listener by name. */
  public InetSocketAddress listenerAddress(String name) {
    for (ActiveListener l : listeners()) {
      if (l.config().name.equals(name)) {
        return l.boundAddress();
      }
    }
    throw new IllegalArgumentException("no listener named " + name);
  }

  /** Returns the active listeners, static then dynamic. */
  public List<ActiveListener> listeners() {
    return listenerManager == null ? List.of() : listenerManager.listeners();
  }

  /** Returns the admin address, or null when there is no admin block. */
  public InetSocketAddress adminAddress() {
    return adminAddress;
  }

  /** Returns the clusters (static and dynamic). */
  public ClusterManager clusterManager() {
    return clusterManager;
  }

  /** Returns the worker event loops (the threads that own connections). */
  public EventLoopGroup workers() {
    return workers;
  }

  /** Returns the process's stats. */
  public StatsStore stats() {
    return stats;
  }

  public String state() {
    return state;
  }

  /** Completes with the exit code once the server has stopped. */
  public CompletableFuture<Integer> terminated() {
    return terminated;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Drains and stops: stop accepting, let in-flight requests finish for up to the drain time, close
   * everything, complete {@link #terminated()} with 0. Safe to call from any thread, more than once.
   */
  public void drainAndStop() {
    drain(options.drainTimeSeconds(), false);
  }

  /**
   * Drains for a hot restart: the next epoch accepts on the same sockets, so this process stops
   * accepting, tells its connections to close (HTTP/1.1 {@code Connection: close} on the next
   * response, HTTP/2 GOAWAY) and exits once they are gone or after {@code seconds}.
   */
  void drainForRestart(int seconds) {
    drain(seconds, true);
  }

  private void drain(int seconds, boolean waitForConnections) {
    synchronized (this) {
      if (draining) {
        return;
      }
      draining = true;
    }
    state = "DRAINING";
    stats.gauge("server.state").set(1);
    Log.info("main", "draining: no new connections; waiting up to " + seconds + "s for active "
        + (waitForConnections ? "connections" : "requests"));
    for (ActiveListener l : listeners()) {
      l.stopAccepting();
    }
    if (admin != null && waitForConnections) {
      admin.stop();
    }
    io.legate.http.DrainEvent.fire(connections);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.max(0, seconds));
    Thread t =
        new Thread(
            () -> {
              while (System.nanoTime() < deadline
                  && (activeRequests() > 0 || (waitForConnections && !connections.isEmpty()))) {
                try {
                  Thread.sleep(20);
                } catch (InterruptedException e) {
                  break;
                }
              }
              // Bounded: the process exits when the drain time is over even if a component's
              // shutdown blocks (each step below has its own timeout; this covers any without one).
              Thread watchdog =
                  new Thread(
                      () -> {
                        try {
                          Thread.sleep(15_000);
                        } catch (InterruptedException e) {
                          return;
                        }
                        Log.warn("main", "shutdown did not finish in 15 s; exiting anyway. Threads:\n" + Log.threadDump());
                        terminated.complete(0);
                      },
                      "legate-shutdown-watchdog");
              watchdog.setDaemon(true);
              watchdog.start();
              shutdownNow();
              watchdog.interrupt();
            },
            "legate-drain");
    t.setDaemon(true);
    t.start();
  }

  private long activeRequests() {
    long n = 0;
    for (Gauge g : stats.gauges()) {
      if (g.name().startsWith("http.") && g.name().endsWith(".downstream_rq_active")) {
        n += g.value();
      }
    }
    return n;
  }

  /** Closes everything at once. */
  public void shutdownNow() {
    try {
      if (hotRestart != null) {
        hotRestart.close();
      }
      if (xds != null) {
        xds.shutdown();
      }
      for (ActiveListener l : listeners()) {
        l.stopAccepting();
      }
      connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      if (admin != null) {
        admin.stop();
      }
      sinks.forEach(io.legate.stats.StatsSink::close);
      if (clusterManager != null) {
        io.legate.tracing.Tracers.shutdown(clusterManager);
        clusterManager.shutdown();
      }
      if (workers != null) {
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
      }
      if (main != null) {
        main.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
      }
    } finally {
      stats.gauge("server.live").set(0);
      terminated.complete(0);
    }
  }

  // ---------------------------------------------------------------- admin

  private Node node() {
    Node.Builder n = bootstrap.getNode().toBuilder();
    if (!options.serviceCluster().isEmpty()) {
      n.setCluster(options.serviceCluster());
    }
    if (!options.serviceNode().isEmpty()) {
      n.setId(options.serviceNode());
    }
    n.setUserAgentName("legate");
    return n.build();
  }

  private final class AdminContext implements AdminServer.Context {
    @Override
    public StatsStore stats() {
      return stats;
    }

    @Override
    public String state() {
      return state;
    }

    @Override
    public long uptimeCurrentEpochSeconds() {
      return (System.currentTimeMillis() - startMillis) / 1000;
    }

    @Override
    public long uptimeAllEpochsSeconds() {
      return uptimeCurrentEpochSeconds();
    }

    @Override
    public String version() {
      return "legate/" + VERSION;
    }

    @Override
    public Map<String, Object> commandLineOptions() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("concurrency", options.concurrency());
      m.put("config_path", options.configPath() == null ? "" : options.configPath().toString());
      m.put("config_yaml", options.configYaml() == null ? "" : options.configYaml());
      m.put("log_level", Log.level());
      m.put("service_cluster", options.serviceCluster());
      m.put("service_node", options.serviceNode());
      m.put("drain_time", options.drainTimeSeconds() + "s");
      m.put("mode", options.mode().equals("validate") ? "Validate" : "Serve");
      return m;
    }

    @Override
    public Node node() {
      return Server.this.node();
    }

    @Override
    public List<AdminServer.ListenerStatus> listeners() {
      List<AdminServer.ListenerStatus> out = new ArrayList<>();
      for (ActiveListener l : Server.this.listeners()) {
        out.add(new AdminServer.ListenerStatus(l.config().name, l.boundAddress()));
      }
      return out;
    }

    @Override
    public List<AdminServer.ClusterStatus> clusters() {
      List<AdminServer.ClusterStatus> out = new ArrayList<>();
      for (Cluster c : clusterManager.clusters()) {
        List<AdminServer.HostStatus> hosts = new ArrayList<>();
        for (Host h : c.prioritySet().hosts()) {
          hosts.add(
              new AdminServer.HostStatus(
                  h.addressString(),
                  h.hostname(),
                  h.weight(),
                  h.priority(),
                  "",
                  h.zone(),
                  "",
                  false,
                  h.cxTotal.sum(),
                  h.activeConnections.get(),
                  h.cxConnectFail.sum(),
                  h.rqTotal.sum(),
                  h.activeRequests.get(),
                  h.rqSuccess.sum(),
                  h.rqError.sum(),
                  h.rqTimeout.sum(),
                  healthFlags(h),
                  h.outlier() == null ? -1 : h.outlier().successRate(),
                  h.outlier() == null ? -1 : h.outlier().localOriginSuccessRate()));
        }
        io.legate.upstream.CircuitBreakers cb = c.info().circuitBreakers();
        out.add(
            new AdminServer.ClusterStatus(
                c.info().name(),
                c.info().name(),
                false,
                "",
                thresholds(cb.forPriority(io.legate.upstream.CircuitBreakers.Priority.DEFAULT)),
                thresholds(cb.forPriority(io.legate.upstream.CircuitBreakers.Priority.HIGH)),
                hosts,
                outlierStatus(c)));
      }
      return out;
    }

    private AdminServer.OutlierStatus outlierStatus(Cluster c) {
      io.legate.upstream.outlier.OutlierDetector d = clusterManager.outlierDetector(c);
      if (d == null) {
        return null;
      }
      return new AdminServer.OutlierStatus(
          d.successRateAverage(),
          d.successRateEjectionThreshold(),
          d.localOriginSuccessRateAverage(),
          d.localOriginSuccessRateEjectionThreshold());
    }

    private static AdminServer.Thresholds thresholds(io.legate.upstream.CircuitBreakers.ResourceManager rm) {
      var t = rm.thresholds();
      return new AdminServer.Thresholds(t.maxConnections(), t.maxPendingRequests(), t.maxRequests(), t.maxRetries());
    }

    private String healthFlags(Host h) {
      if (h.healthy()) {
        return "healthy";
      }
      StringBuilder sb = new StringBuilder();
      if ((h.healthFlags() & Host.FAILED_ACTIVE_HC) != 0) {
        sb.append("/failed_active_hc");
      }
      if ((h.healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0) {
        sb.append("/failed_outlier_check");
      }
      if ((h.healthFlags() & Host.FAILED_EDS_HEALTH) != 0) {
        sb.append("/failed_eds_health");
      }
      return sb.toString();
    }

    @Override
    public List<Message> configDump() {
      com.google.protobuf.Timestamp ts =
          com.google.protobuf.Timestamp.newBuilder().setSeconds(startMillis / 1000).build();
      List<Message> out = new ArrayList<>();
      out.add(BootstrapConfigDump.newBuilder().setBootstrap(bootstrap).setLastUpdated(ts).build());
      ClustersConfigDump.Builder cd = ClustersConfigDump.newBuilder();
      for (var c : bootstrap.getStaticResources().getClustersList()) {
        cd.addStaticClusters(ClustersConfigDump.StaticCluster.newBuilder().setCluster(Any.pack(c)).setLastUpdated(ts));
      }
      xds.dumpClusters(cd);
      out.add(cd.build());
      ListenersConfigDump.Builder ld = ListenersConfigDump.newBuilder();
      RoutesConfigDump.Builder rd = RoutesConfigDump.newBuilder();
      for (var l : bootstrap.getStaticResources().getListenersList()) {
        ld.addStaticListeners(ListenersConfigDump.StaticListener.newBuilder().setListener(Any.pack(l)).setLastUpdated(ts));
        for (var fc : l.getFilterChainsList()) {
          for (var f : fc.getFiltersList()) {
            if (f.hasTypedConfig() && f.getTypedConfig().is(HttpConnectionManager.class)) {
              try {
                HttpConnectionManager hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
                if (hcm.hasRouteConfig()) {
                  rd.addStaticRouteConfigs(
                      RoutesConfigDump.StaticRouteConfig.newBuilder().setRouteConfig(Any.pack(hcm.getRouteConfig())).setLastUpdated(ts));
                }
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                // validated at load time
              }
            }
          }
        }
      }
      xds.dumpListeners(ld);
      xds.dumpRoutes(rd);
      out.add(ld.build());
      out.add(rd.build());
      io.envoyproxy.envoy.admin.v3.SecretsConfigDump.Builder sd = io.envoyproxy.envoy.admin.v3.SecretsConfigDump.newBuilder();
      for (var secret : bootstrap.getStaticResources().getSecretsList()) {
        sd.addStaticSecrets(
            io.envoyproxy.envoy.admin.v3.SecretsConfigDump.StaticSecret.newBuilder()
                .setName(secret.getName())
                .setLastUpdated(ts)
                .setSecret(Any.pack(SecretManager.redacted(secret))));
      }
      xds.dumpSecrets(sd);
      out.add(sd.build());
      return out;
    }

    @Override
    public io.envoyproxy.envoy.admin.v3.Certificates certs() {
      return secrets.certificates();
    }

    @Override
    public JsonFormat.TypeRegistry typeRegistry() {
      return ConfigLoader.typeRegistry();
    }

    @Override
    public void setHealthCheckFailed(boolean failed) {
      serverState.setHealthCheckFailed(failed);
    }

    @Override
    public boolean healthCheckFailed() {
      return serverState.healthCheckFailed();
    }

    @Override
    public void quit() {
      drainAndStop();
    }

    @Override
    public void setLogLevel(String level) {
      Log.setLevel(level);
    }

    @Override
    public void drainListeners(boolean inboundOnly, boolean graceful) {
      long drainMs = graceful ? TimeUnit.SECONDS.toMillis(Math.max(0, options.drainTimeSeconds())) : 0;
      for (ActiveListener l : Server.this.listeners()) {
        if (inboundOnly
            && l.config().proto.getTrafficDirection() != io.envoyproxy.envoy.config.core.v3.TrafficDirection.INBOUND) {
          continue;
        }
        l.drain(drainMs, main.next());
      }
    }

    @Override
    public Message endpointsConfigDump() {
      io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.Builder b = io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.newBuilder();
      for (var c : bootstrap.getStaticResources().getClustersList()) {
        if (c.hasLoadAssignment()) {
          var cla = c.getLoadAssignment().getClusterName().isEmpty()
              ? c.getLoadAssignment().toBuilder().setClusterName(c.getName()).build()
              : c.getLoadAssignment();
          b.addStaticEndpointConfigs(io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.StaticEndpointConfig.newBuilder()
              .setEndpointConfig(Any.pack(cla))
              .setLastUpdated(com.google.protobuf.Timestamp.newBuilder().setSeconds(startMillis / 1000)));
        }
      }
      return b.build();
    }

    @Override
    public List<AdminServer.RuntimeLayer> runtimeLayers() {
      List<AdminServer.RuntimeLayer> out = new ArrayList<>();
      for (var layer : bootstrap.getLayeredRuntime().getLayersList()) {
        if (layer.hasStaticLayer()) {
          Map<String, String> values = new LinkedHashMap<>();
          flatten("", layer.getStaticLayer(), values);
          out.add(new AdminServer.RuntimeLayer(layer.getName(), values));
        } else {
          out.add(new AdminServer.RuntimeLayer(layer.getName(), Map.of()));
        }
      }
      return out;
    }

    private void flatten(String prefix, com.google.protobuf.Struct s, Map<String, String> out) {
      for (var e : s.getFieldsMap().entrySet()) {
        String key = prefix + e.getKey();
        var v = e.getValue();
        switch (v.getKindCase()) {
          case STRUCT_VALUE -> flatten(key + ".", v.getStructValue(), out);
          case STRING_VALUE -> out.put(key, v.getStringValue());
          case BOOL_VALUE -> out.put(key, Boolean.toString(v.getBoolValue()));
          case NUMBER_VALUE -> out.put(key, io.legate.stats.StatsFormatter.formatNumber(v.getNumberValue()));
          default -> { }
        }
      }
    }
  }

  /** Returns when the process started (ms since the epoch). */
  public Instant startTime() {
    return Instant.ofEpochMilli(startMillis);
  }
}

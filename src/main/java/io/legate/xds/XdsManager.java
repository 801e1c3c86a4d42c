package io.legate.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster.DiscoveryType;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.service.cluster.v3.ClusterDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.endpoint.v3.EndpointDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.listener.v3.ListenerDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.route.v3.RouteDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.secret.v3.SecretDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.grpc.stub.StreamObserver;
import io.legate.tls.SecretManager;
import io.legate.tls.SecretProvider;
import io.grpc.ManagedChannel;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.config.ProtoValidator;
import io.legate.http.RouteConfigProvider;
import io.legate.listener.ListenerConfig;
import io.legate.listener.ListenerManager;
import io.legate.server.Log;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.EdsCluster;
import io.legate.upstream.Host;
import io.legate.upstream.pool.WorkerClusters;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Dynamic configuration (Envoy's {@code dynamic_resources}): CDS, EDS, LDS, RDS and SDS from files
 * or from a control plane (ADS or one gRPC stream per type, state-of-the-world {@code GRPC} or
 * incremental {@code DELTA_GRPC}: only the wire protocol differs, updates are applied by the same
 * code), applied in Envoy's order: clusters first, then, once they are warm (their first endpoints
 * and secrets, or {@code initial_fetch_timeout}), listeners, which wait for their routes and secrets.
 *
 * <p>Each update is built whole into new immutable objects before anything is published: a resource
 * that fails validation refuses the whole update (a NACK whose {@code error_detail} is the
 * {@link ConfigException} message, which starts with the resource name and the field path), and the
 * last good config keeps serving. Updates are applied on one config thread ({@code legate-xds}), never
 * on an event loop; gRPC runs on its own event loop.
 */
public final class XdsManager {
  static final long DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
  static final long FILE_POLL_MS = 1_000;

  private final Bootstrap bootstrap;
  private final Node node;
  private final StatsStore stats;
  private final ClusterManager clusters;
  private final EventLoopGroup workers;
  private final ListenerManager listenerManager;
  private final boolean validateOnly;
  private final ExecutorService configThread;
  private final ScheduledExecutorService timer;
  private final List<Runnable> onStop = new ArrayList<>();
  private final Gauge connectedState;
  private final Map<String, XdsMux<?, ?>> muxes = new LinkedHashMap<>();
  private final Map<String, SecretProvider> secretProviders = new LinkedHashMap<>();
  private final Map<String, Map<String, SecretProvider>> secretSinks = new HashMap<>();
  private final Map<SecretProvider, UpdateStats> secretStats = new java.util.concurrent.ConcurrentHashMap<>();
  private final List<Runnable> deferredChecks = new ArrayList<>();
  private final Map<SecretProvider, Map<Path, String>> secretFiles = new LinkedHashMap<>();
  private boolean secretFilesPolled;
  private boolean initialized;
  private final Map<String, Channel> channels = new HashMap<>();
  private final Map<String, RdsProvider> routeProviders = new LinkedHashMap<>();
  private final Map<String, Map<String, RdsProvider>> routeSinks = new HashMap<>();
  private final List<Subscription> pending = new ArrayList<>();
  private final Map<String, Subscription> edsFileSubscriptions = new HashMap<>();
  private final Map<String, Set<String>> edsNames = new HashMap<>();
  private final Map<String, Dynamic> dynamicClusters = new LinkedHashMap<>();
  private final Map<String, Dynamic> dynamicListeners = new LinkedHashMap<>();
  private final UpdateStats cdsStats;
  private final UpdateStats ldsStats;
  private final Counter clusterAdded;
  private final Counter clusterModified;
  private final Counter clusterRemoved;
  private Subscription cds;
  private Subscription lds;
  private long cdsInitialFetchTimeoutMs;
  private volatile String cdsVersion = "";
  private volatile String ldsVersion = "";
  private boolean ldsStarted;
  private volatile boolean started;
  private volatile Thread configThreadRef;

  /** A dynamic resource for config_dump: its proto, version and when it was accepted. */
  private record Dynamic(Message proto, String version, long millis) {}

  /**
   * The gRPC channel to a management server: the cluster manager's shared channel for the source's
   * {@code envoy_grpc} cluster (following its hosts) or {@code google_grpc} target, closed with the
   * cluster manager.
   */
  private final class Channel {
    final ApiConfigSource source;

    Channel(ApiConfigSource source) {
      this.source = source;
    }

    ManagedChannel get() {
      return clusters.grpcChannels().channel(source.getGrpcServices(0));
    }
  }


  /**
   * Creates the manager and makes it the server's source of SDS secrets; {@link #init()} checks
   * {@code dynamic_resources}. Nothing is read or sent before {@link #start()}.
   *
   * @param workers the worker loops (to drain removed clusters' pools); null in validate mode
   * @param listenerManager null in validate mode
   * @param validateOnly check the config only (Envoy's {@code --mode validate}): files need not exist
   */
  private final io.legate.server.ServerState serverState;

  public XdsManager(
      Bootstrap bootstrap,
      Node node,
      StatsStore stats,
      ClusterManager clusters,
      EventLoopGroup workers,
      ListenerManager listenerManager,
      boolean validateOnly,
      io.legate.server.ServerState serverState) {
    this.serverState = serverState;
    this.bootstrap = bootstrap;
    this.node = node;
    this.stats = stats;
    this.clusters = clusters;
    this.workers = workers;
    this.listenerManager = listenerManager;
    this.validateOnly = validateOnly;
    this.configThread = Executors.newSingleThreadExecutor(new DefaultThreadFactory("legate-xds", true));
    this.timer = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("legate-xds-timer", true));
    configThread.execute(() -> configThreadRef = Thread.currentThread());
    this.connectedState = stats.gauge("control_plane.connected_state");
    this.cdsStats = new UpdateStats(stats, "cluster_manager.cds.");
    this.ldsStats = new UpdateStats(stats, "listener_manager.lds.");
    this.clusterAdded = stats.counter("cluster_manager.cluster_added");
    this.clusterModified = stats.counter("cluster_manager.cluster_modified");
    this.clusterRemoved = stats.counter("cluster_manager.cluster_removed");
    if (serverState != null) {
      serverState.secrets().setDynamicSource(this::subscribeSecret);
    }
  }

  /**
   * Checks {@code bootstrap.dynamic_resources} and prepares the CDS and LDS subscriptions; call once
   * the static clusters exist (a gRPC config source must name one). Secrets subscribed before (by
   * static clusters) have their config sources checked now.
   *
   * @throws ConfigException naming the field under {@code dynamic_resources}
   */
  public synchronized void init() {
    initialized = true;
    for (Runnable r : deferredChecks) {
      r.run();
    }
    deferredChecks.clear();
    if (!bootstrap.hasDynamicResources()) {
      return;
    }
    var dr = bootstrap.getDynamicResources();
    String p = "dynamic_resources";
    if (dr.hasAdsConfig()) {
      checkApiSource(dr.getAdsConfig(), p + ".ads_config");
    }
    if (dr.hasCdsConfig()) {
      cdsInitialFetchTimeoutMs = initialFetchTimeout(dr.getCdsConfig());
      cds = subscription(dr.getCdsConfig(), ResourceType.CLUSTER, Set.of(), this::onClusters, cdsStats, p + ".cds_config");
    }
    if (dr.hasLdsConfig()) {
      lds = subscription(dr.getLdsConfig(), ResourceType.LISTENER, Set.of(), this::onListeners, ldsStats, p + ".lds_config");
    }
    if (dr.getCdsResourcesLocator().length() > 0 || dr.getLdsResourcesLocator().length() > 0) {
      throw new ConfigException(p, "xdstp resource locators are not supported");
    }
  }

  // ---------------------------------------------------------------- config sources

  private static long initialFetchTimeout(ConfigSource cs) {
    if (!cs.hasInitialFetchTimeout()) {
      return DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
    }
    return cs.getInitialFetchTimeout().getSeconds() * 1000 + cs.getInitialFetchTimeout().getNanos() / 1_000_000;
  }

  private void checkApiSource(ApiConfigSource a, String path) {
    switch (a.getApiType()) {
      case GRPC -> {}
      case DELTA_GRPC -> {}
      default -> throw new ConfigException(path + ".api_type", "api_type " + a.getApiType() + " is not supported; use GRPC or DELTA_GRPC");
    }
    if (a.getTransportApiVersion() == ApiVersion.V2) {
      throw new ConfigException(path + ".transport_api_version", "V2 xDS transport protocol is not supported; use V3");
    }
    if (a.getGrpcServicesCount() != 1) {
      throw new ConfigException(path + ".grpc_services", "exactly one gRPC service is required, found " + a.getGrpcServicesCount());
    }
    GrpcService g = a.getGrpcServices(0);
    if (g.hasEnvoyGrpc() && !initialized) {
      deferredChecks.add(() -> checkApiSource(a, path));
    } else if (g.hasEnvoyGrpc()) {
      String name = g.getEnvoyGrpc().getClusterName();
      Cluster c = clusters.get(name);
      if (c == null || c.info().proto().getType() == DiscoveryType.EDS) {
        throw new ConfigException(
            path + ".grpc_services[0].envoy_grpc.cluster_name",
            "envoy::config::core::v3::ConfigSource must have a statically defined non-EDS cluster: '"
                + name + "' does not exist, was added via api, or is an EDS cluster");
      }
    } else if (g.hasGoogleGrpc()) {
      if (g.getGoogleGrpc().hasChannelCredentials() && g.getGoogleGrpc().getChannelCredentials().hasSslCredentials()) {
        throw new ConfigException(path + ".grpc_services[0].google_grpc.channel_credentials", "TLS to the management server is not supported yet");
      }
    } else {
      throw new ConfigException(path + ".grpc_services[0]", "one of envoy_grpc or google_grpc is required");
    }
  }

  private Subscription subscription(
      ConfigSource cs, ResourceType type, Set<String> names, Watcher watcher, UpdateStats st, String path) {
    switch (cs.getConfigSourceSpecifierCase()) {
      case PATH -> {
        return file(cs.getPath(), type, watcher, st, path + ".path");
      }
      case PATH_CONFIG_SOURCE -> {
        return file(cs.getPathConfigSource().getPath(), type, watcher, st, path + ".path_config_source.path");
      }
      case ADS -> {
        if (!bootstrap.getDynamicResources().hasAdsConfig()) {
          throw new ConfigException(path + ".ads", "ADS is used but dynamic_resources.ads_config is not set");
        }
        return grpc("ads", bootstrap.getDynamicResources().getAdsConfig(), "dynamic_resources.ads_config", true, type, names, watcher, st);
      }
      case API_CONFIG_SOURCE -> {
        checkApiSource(cs.getApiConfigSource(), path + ".api_config_source");
        String key = type.name() + " " + cs.getApiConfigSource().toString();
        return grpc(key, cs.getApiConfigSource(), path + ".api_config_source", false, type, names, watcher, st);
      }
      case SELF -> throw new ConfigException(path + ".self", "self config sources are not supported");
      default -> throw new ConfigException(path, "one of path, path_config_source, api_config_source or ads is required");
    }
  }

  private Subscription file(String file, ResourceType type, Watcher watcher, UpdateStats st, String path) {
    if (file.isEmpty()) {
      throw new ConfigException(path, "value length must be at least 1 characters");
    }
    Path f = Path.of(file);
    if (!validateOnly && !Files.exists(f)) {
      throw new ConfigException(path, "paths must refer to an existing path in the system: '" + file + "' does not exist");
    }
    return new FilesystemSubscription(f, type, watcher, configThread, timer, st, FILE_POLL_MS);
  }

  private Subscription grpc(
      String key, ApiConfigSource source, String path, boolean ads, ResourceType type, Set<String> names, Watcher watcher, UpdateStats st) {
    XdsMux<?, ?> mux =
        muxes.computeIfAbsent(
            key,
            k -> {
              Channel ch = channels.computeIfAbsent(source.toString(), x -> new Channel(source));
              String muxName = ads ? "ads" : type.name().charAt(0) + "ds";
              if (source.getApiType() == ApiConfigSource.ApiType.DELTA_GRPC) {
                return new DeltaGrpcMux(
                    muxName, deltaOpener(ch, ads, type), node, source.getSetNodeOnFirstMessageOnly(), configThread, timer, connectedState);
              }
              return new GrpcMux(
                  muxName, opener(ch, ads, type), node, source.getSetNodeOnFirstMessageOnly(), configThread, timer, connectedState);
            });
    return new Subscription() {
      private boolean watching;

      @Override
      public void start() {
        onConfigThread(
            () -> {
              if (!watching) {
                watching = true;
                mux.watch(type, names, watcher, st);
              }
              mux.start();
            });
      }

      @Override
      public void updateResourceNames(Set<String> next) {
        onConfigThread(() -> mux.updateNames(type, next));
      }

      @Override
      public void stop() {
        onConfigThread(mux::stop);
      }
    };
  }

  private static Function<StreamObserver<DiscoveryResponse>, StreamObserver<DiscoveryRequest>> opener(
      Channel ch, boolean ads, ResourceType type) {
    if (ads) {
      return o -> AggregatedDiscoveryServiceGrpc.newStub(ch.get()).streamAggregatedResources(o);
    }
    return switch (type) {
      case CLUSTER -> o -> ClusterDiscoveryServiceGrpc.newStub(ch.get()).streamClusters(o);
      case LISTENER -> o -> ListenerDiscoveryServiceGrpc.newStub(ch.get()).streamListeners(o);
      case ROUTE -> o -> RouteDiscoveryServiceGrpc.newStub(ch.get()).streamRoutes(o);
      case ENDPOINT -> o -> EndpointDiscoveryServiceGrpc.newStub(ch.get()).streamEndpoints(o);
      case SECRET -> o -> SecretDiscoveryServiceGrpc.newStub(ch.get()).streamSecrets(o);
    };
  }

  private static Function<StreamObserver<DeltaDiscoveryResponse>, StreamObserver<DeltaDiscoveryRequest>> deltaOpener(
      Channel ch, boolean ads, ResourceType type) {
    if (ads) {
      return o -> AggregatedDiscoveryServiceGrpc.newStub(ch.get()).deltaAggregatedResources(o);
    }
    return switch (type) {
      case CLUSTER -> o -> ClusterDiscoveryServiceGrpc.newStub(ch.get()).deltaClusters(o);
      case LISTENER -> o -> ListenerDiscoveryServiceGrpc.newStub(ch.get()).deltaListeners(o);
      case ROUTE -> o -> RouteDiscoveryServiceGrpc.newStub(ch.get()).deltaRoutes(o);
      case ENDPOINT -> o -> EndpointDiscoveryServiceGrpc.newStub(ch.get()).deltaEndpoints(o);
      case SECRET -> o -> SecretDiscoveryServiceGrpc.newStub(ch.get()).deltaSecrets(o);
    };
  }

  private void onConfigThread(Runnable r) {
    if (Thread.currentThread() == configThreadRef) {
      r.run();
    } else {
      configThread.execute(r);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the subscriptions: CDS first; LDS once the first clusters are warm. Returns a future
   * completed when the initial configuration has been applied (or refused, or timed out): filesystem
   * files are read before it completes, a control plane's answer is waited for up to the initial
   * fetch timeouts.
   */
  public CompletableFuture<Void> start() {
    started = true;
    CompletableFuture<Void> done = new CompletableFuture<>();
    configThread.execute(
        () -> {
          for (Subscription s : pending) {
            s.start();
          }
          pending.clear();
          if (cds == null) {
            startLds(done);
            return;
          }
          cdsWarm = new CompletableFuture<>();
          cdsWarm.whenComplete((v, e) -> configThread.execute(() -> startLds(done)));
          if (cdsInitialFetchTimeoutMs > 0) {
            timer.schedule(
                () -> {
                  if (cdsWarm.complete(null)) {
                    cdsStats.initFetchTimeout.inc();
                  }
                },
                cdsInitialFetchTimeoutMs,
                TimeUnit.MILLISECONDS);
          }
          cds.start();
        });
    return done;
  }

  private CompletableFuture<Void> cdsWarm;

  private void startLds(CompletableFuture<Void> done) {
    if (ldsStarted) {
      return;
    }
    ldsStarted = true;
    if (lds == null) {
      done.complete(null);
      return;
    }
    lds.start();
    if (lds instanceof FilesystemSubscription f) {
      f.firstLoad().whenComplete((v, e) -> done.complete(null));
    } else {
      done.complete(null);
    }
  }

  /** Stops every subscription (the channels are the cluster manager's and close with it). */
  public void shutdown() {
    try {
      configThread
          .submit(
              () -> {
                for (XdsMux<?, ?> m : muxes.values()) {
                  m.stop();
                }
                if (cds != null) {
                  cds.stop();
                }
                if (lds != null) {
                  lds.stop();
                }
                for (Subscription s : edsFileSubscriptions.values()) {
                  s.stop();
                }
              })
          .get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // shutting down anyway
    }
    configThread.shutdownNow();
    timer.shutdownNow();
  }

  // ---------------------------------------------------------------- CDS

  private static <T extends Message> T unpack(Any a, Class<T> type, int index) {
    T m = ConfigLoader.unpack(a, type, "resources[" + index + "]");
    return m;
  }

  private void onClusters(List<Any> resources, String version) {
    Map<String, io.envoyproxy.envoy.config.cluster.v3.Cluster> next = new LinkedHashMap<>();
    for (int i = 0; i < resources.size(); i++) {
      var c = unpack(resources.get(i), io.envoyproxy.envoy.config.cluster.v3.Cluster.class, i);
      String name = c.getName();
      ProtoValidator.validate(c, name.isEmpty() ? "resources[" + i + "]" : name);
      if (next.put(name, c) != null) {
        throw new ConfigException(name, "duplicate cluster '" + name + "' in the update");
      }
      if (clusters.exists(name) && !dynamicClusters.containsKey(name)) {
        throw new ConfigException(name, "cannot update static cluster '" + name + "'");
      }
      Dynamic old = dynamicClusters.get(name);
      if (old == null || !old.proto().equals(c)) {
        ClusterInfo.build(c, name, stats, clusters.secrets());
        if (c.getType() == DiscoveryType.EDS) {
          edsSource(c, name);
        }
      }
    }
    List<CompletableFuture<Void>> warming = new ArrayList<>();
    long now = System.currentTimeMillis();
    for (var c : next.values()) {
      Dynamic old = dynamicClusters.get(c.getName());
      if (old != null && old.proto().equals(c)) {
        continue;
      }
      Cluster previous = clusters.get(c.getName());
      // A replacement warms with the last assignment of its EDS service (Envoy's EDS cache: the
      // control plane need not send it again) and serves once warm; the old one then drains.
      Cluster fresh = clusters.addOrUpdateCluster(c, c.getName(), this::primeFromEdsCache, this::drainOnWorkers);
      if (previous != null) {
        warmingClusters.add(fresh);
        fresh.initialize().whenComplete((v, e) -> warmingClusters.remove(fresh));
      }
      // as Envoy's cluster warming: the first endpoints, and the secrets its TLS context names
      warming.add(
          fresh.info().tls() == null
              ? fresh.initialize()
              : CompletableFuture.allOf(fresh.initialize(), fresh.info().tls().ready()));
      if (previous != null) {
        clusterModified.inc();
      } else {
        clusterAdded.inc();
      }
      dynamicClusters.put(c.getName(), new Dynamic(c, version, now));
    }
    for (String name : new ArrayList<>(dynamicClusters.keySet())) {
      if (!next.containsKey(name)) {
        Cluster previous = clusters.get(name);
        clusters.removeCluster(name);
        dynamicClusters.remove(name);
        clusterRemoved.inc();
        if (previous != null) {
          drainOnWorkers(previous);
        }
      }
    }
    cdsVersion = version;
    stats.gauge("cluster_manager.active_clusters").set(clusters.clusters().size());
    updateEdsSubscriptions();
    if (cdsWarm != null && !cdsWarm.isDone()) {
      CompletableFuture<Void> all = CompletableFuture.allOf(warming.toArray(new CompletableFuture<?>[0]));
      all.whenComplete((v, e) -> cdsWarm.complete(null));
    }
  }

  private ConfigSource edsSource(io.envoyproxy.envoy.config.cluster.v3.Cluster c, String path) {
    if (!c.hasEdsClusterConfig() || !c.getEdsClusterConfig().hasEdsConfig()) {
      throw new ConfigException(path + ".eds_cluster_config.eds_config", "an EDS cluster needs eds_config");
    }
    ConfigSource cs = c.getEdsClusterConfig().getEdsConfig();
    switch (cs.getConfigSourceSpecifierCase()) {
      case ADS -> {
        if (!bootstrap.getDynamicResources().hasAdsConfig()) {
          throw new ConfigException(path + ".eds_cluster_config.eds_config.ads", "ADS is used but dynamic_resources.ads_config is not set");
        }
      }
      case API_CONFIG_SOURCE -> checkApiSource(cs.getApiConfigSource(), path + ".eds_cluster_config.eds_config.api_config_source");
      case PATH, PATH_CONFIG_SOURCE -> {}
      default -> throw new ConfigException(path + ".eds_cluster_config.eds_config", "unsupported EDS config source");
    }
    return cs;
  }

  /** Replacement clusters still warming (not yet serving): EDS updates reach them too. */
  private final Set<Cluster> warmingClusters = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The last ClusterLoadAssignment accepted per EDS service name. */
  private final Map<String, ClusterLoadAssignment> edsCache = new java.util.concurrent.ConcurrentHashMap<>();

  private void primeFromEdsCache(Cluster c) {
    if (c instanceof EdsCluster eds) {
      ClusterLoadAssignment cla = edsCache.get(eds.info().edsServiceName());
      if (cla != null) {
        eds.updateLoadAssignment(cla);
      }
    }
  }

  private void drainOnWorkers(Cluster old) {
    if (workers == null) {
      return;
    }
    for (EventExecutor e : workers) {
      e.execute(() -> WorkerClusters.current().remove(old));
    }
  }

  // ---------------------------------------------------------------- EDS

  /** Re-derives which EDS names each config source asks for, after the clusters changed. */
  private void updateEdsSubscriptions() {
    Map<String, Set<String>> bySource = new HashMap<>();
    Map<String, ConfigSource> sources = new HashMap<>();
    Set<String> files = new HashSet<>();
    for (Cluster c : clusters.clusters()) {
      if (!(c instanceof EdsCluster)) {
        continue;
      }
      ConfigSource cs = c.info().proto().getEdsClusterConfig().getEdsConfig();
      String service = c.info().edsServiceName();
      switch (cs.getConfigSourceSpecifierCase()) {
        case PATH, PATH_CONFIG_SOURCE -> {
          String key = service + "|" + cs;
          files.add(key);
          if (!edsFileSubscriptions.containsKey(key)) {
            Subscription s =
                subscription(cs, ResourceType.ENDPOINT, Set.of(service), (r, v) -> onEndpoints(r, v, Set.of(service)), new UpdateStats(stats, "cluster." + c.info().name() + ".eds."), "eds_config");
            edsFileSubscriptions.put(key, s);
            s.start();
          }
        }
        default -> {
          String key = cs.hasAds() ? "ads" : cs.getApiConfigSource().toString();
          bySource.computeIfAbsent(key, k -> new java.util.TreeSet<>()).add(service);
          sources.put(key, cs);
        }
      }
    }
    for (String key : new ArrayList<>(edsFileSubscriptions.keySet())) {
      if (!files.contains(key)) {
        edsFileSubscriptions.remove(key).stop();
      }
    }
    Set<String> keys = new HashSet<>(bySource.keySet());
    keys.addAll(edsNames.keySet());
    for (String key : keys) {
      Set<String> names = bySource.getOrDefault(key, Set.of());
      Set<String> previous = edsNames.get(key);
      if (previous == null) {
        ConfigSource cs = sources.get(key);
        Subscription s = subscription(cs, ResourceType.ENDPOINT, names, (r, v) -> onEndpoints(r, v, null), null, "eds_config");
        s.start();
        edsSubs.put(key, s);
      } else if (!previous.equals(names)) {
        edsSubs.get(key).updateResourceNames(names);
      }
      edsNames.put(key, names);
    }
  }

  private final Map<String, Subscription> edsSubs = new HashMap<>();

  private void onEndpoints(List<Any> resources, String version, Set<String> only) {
    List<Runnable> commits = new ArrayList<>();
    for (int i = 0; i < resources.size(); i++) {
      ClusterLoadAssignment cla = unpack(resources.get(i), ClusterLoadAssignment.class, i);
      String name = cla.getClusterName();
      ProtoValidator.validate(cla, name.isEmpty() ? "resources[" + i + "]" : name);
      if (only != null && !only.contains(name)) {
        continue;
      }
      List<Cluster> targets = new ArrayList<>(clusters.clusters());
      targets.addAll(warmingClusters);
      for (Cluster c : targets) {
        if (c instanceof EdsCluster eds && eds.info().edsServiceName().equals(name)) {
          commits.add(() -> eds.updateLoadAssignment(cla));
        }
      }
      commits.add(() -> edsCache.put(name, cla));
    }
    for (Runnable r : commits) {
      r.run();
    }
  }

  // ---------------------------------------------------------------- LDS

  private void onListeners(List<Any> resources, String version) {
    List<ListenerConfig> configs = new ArrayList<>();
    List<String> paths = new ArrayList<>();
    List<Listener> protos = new ArrayList<>();
    for (int i = 0; i < resources.size(); i++) {
      Listener l = unpack(resources.get(i), Listener.class, i);
      String path = l.getName().isEmpty() ? "resources[" + i + "]" : l.getName();
      ProtoValidator.validate(l, path);
      configs.add(new ListenerConfig(l, path, stats, clusters, serverState, this::subscribeRds));
      paths.add(path);
      protos.add(l);
    }
    listenerManager.update(configs, paths);
    long now = System.currentTimeMillis();
    Map<String, Dynamic> next = new LinkedHashMap<>();
    for (int i = 0; i < configs.size(); i++) {
      Dynamic old = dynamicListeners.get(configs.get(i).name);
      next.put(
          configs.get(i).name,
          old != null && old.proto().equals(protos.get(i)) ? old : new Dynamic(protos.get(i), version, now));
    }
    dynamicListeners.clear();
    dynamicListeners.putAll(next);
    ldsVersion = version;
  }

  // ---------------------------------------------------------------- RDS

  /**
   * Returns the route provider for an HCM's {@code rds}, shared by every HCM naming the same route
   * configuration from the same source; subscribes on first use.
   *
   * @throws ConfigException naming the field under {@code path}
   */
  public synchronized RouteConfigProvider subscribeRds(Rds rds, String statPrefix, String path) {
    String name = rds.getRouteConfigName();
    if (name.isEmpty()) {
      throw new ConfigException(path + ".route_config_name", "value length must be at least 1 characters");
    }
    ConfigSource cs = rds.getConfigSource();
    String sourceKey =
        switch (cs.getConfigSourceSpecifierCase()) {
          case ADS -> "ads";
          case API_CONFIG_SOURCE -> "api " + cs.getApiConfigSource();
          default -> "file " + cs;
        };
    String key = name + "|" + sourceKey;
    RdsProvider existing = routeProviders.get(key);
    if (existing != null) {
      return existing;
    }
    RdsProvider provider = new RdsProvider(name, new UpdateStats(stats, "http." + statPrefix + ".rds." + name + "."));
    Subscription s;
    if (sourceKey.startsWith("file")) {
      s = subscription(cs, ResourceType.ROUTE, Set.of(name), (r, v) -> onRoutes(Map.of(name, provider), r, v, false), provider.stats(), path + ".config_source");
    } else {
      Map<String, RdsProvider> sinks = routeSinks.get(sourceKey);
      boolean first = sinks == null;
      if (first) {
        sinks = new java.util.concurrent.ConcurrentHashMap<>();
        routeSinks.put(sourceKey, sinks);
      }
      sinks.put(name, provider);
      Map<String, RdsProvider> all = sinks;
      s = subscription(cs, ResourceType.ROUTE, all.keySet(), (r, v) -> onRoutes(all, r, v, true), null, path + ".config_source");
      if (!first) {
        s.updateResourceNames(new java.util.TreeSet<>(all.keySet()));
        s = null;
      }
    }
    routeProviders.put(key, provider);
    long timeout = initialFetchTimeout(cs);
    if (!validateOnly && timeout > 0) {
      timer.schedule(provider::initialFetchTimedOut, timeout, TimeUnit.MILLISECONDS);
    }
    if (s != null) {
      if (started) {
        s.start();
      } else {
        pending.add(s);
      }
    }
    return provider;
  }

  private void onRoutes(Map<String, RdsProvider> sinks, List<Any> resources, String version, boolean count) {
    List<Runnable> commits = new ArrayList<>();
    List<RdsProvider> touched = new ArrayList<>();
    try {
      for (int i = 0; i < resources.size(); i++) {
        RouteConfiguration rc = unpack(resources.get(i), RouteConfiguration.class, i);
        RdsProvider p = sinks.get(rc.getName());
        if (p == null) {
          continue;
        }
        touched.add(p);
        if (count) {
          p.stats().updateAttempt.inc();
        }
        ProtoValidator.validate(rc, rc.getName());
        commits.add(p.prepare(rc, version));
      }
    } catch (RuntimeException e) {
      for (RdsProvider p : count ? touched : List.<RdsProvider>of()) {
        p.stats().updateRejected.inc();
      }
      throw e;
    }
    for (Runnable r : commits) {
      r.run();
    }
    for (RdsProvider p : count ? touched : List.<RdsProvider>of()) {
      p.stats().updateSuccess.inc();
    }
  }

  // ---------------------------------------------------------------- SDS

  /**
   * Returns the provider of secret {@code name} from {@code cs} (an {@code sds_config}), shared by
   * every TLS context naming the same secret from the same source; subscribes on first use. Its stats
   * are Envoy's {@code sds.<name>.*}.
   *
   * @throws ConfigException naming the field under {@code path}
   */
  public synchronized SecretProvider subscribeSecret(String name, ConfigSource cs, String path) {
    String sourceKey =
        switch (cs.getConfigSourceSpecifierCase()) {
          case ADS -> "ads";
          case API_CONFIG_SOURCE -> "api " + cs.getApiConfigSource();
          default -> "file " + cs;
        };
    String key = name + "|" + sourceKey;
    SecretProvider existing = secretProviders.get(key);
    if (existing != null) {
      return existing;
    }
    SecretProvider provider = SecretProvider.dynamic(name);
    UpdateStats st = new UpdateStats(stats, "sds." + name + ".");
    Subscription s;
    if (sourceKey.startsWith("file")) {
      s = subscription(cs, ResourceType.SECRET, Set.of(name), (r, v) -> onSecrets(Map.of(name, provider), r, v, false), st, path);
    } else {
      Map<String, SecretProvider> sinks = secretSinks.get(sourceKey);
      boolean first = sinks == null;
      if (first) {
        sinks = new java.util.concurrent.ConcurrentHashMap<>();
      }
      Map<String, SecretProvider> all = sinks;
      Subscription sub = subscription(cs, ResourceType.SECRET, Set.of(name), (r, v) -> onSecrets(all, r, v, true), null, path);
      secretSinks.put(sourceKey, sinks);
      sinks.put(name, provider);
      if (first) {
        s = sub;
      } else {
        sub.updateResourceNames(new java.util.TreeSet<>(all.keySet()));
        s = null;
      }
    }
    secretProviders.put(key, provider);
    secretStats.put(provider, st);
    long timeout = initialFetchTimeout(cs);
    if (!validateOnly && timeout > 0) {
      timer.schedule(
          () -> {
            if (provider.initialFetchTimedOut()) {
              st.initFetchTimeout.inc();
            }
          },
          timeout,
          TimeUnit.MILLISECONDS);
    }
    if (s != null) {
      if (started) {
        s.start();
      } else {
        pending.add(s);
      }
    }
    return provider;
  }

  private void onSecrets(Map<String, SecretProvider> sinks, List<Any> resources, String version, boolean count) {
    Map<SecretProvider, Secret> updates = new LinkedHashMap<>();
    List<SecretProvider> touched = new ArrayList<>();
    try {
      for (int i = 0; i < resources.size(); i++) {
        Secret secret = unpack(resources.get(i), Secret.class, i);
        SecretProvider p = sinks.get(secret.getName());
        if (p == null) {
          continue;
        }
        touched.add(p);
        if (count) {
          secretStats.get(p).updateAttempt.inc();
        }
        if (!secret.equals(p.secret())) {
          updates.put(p, secret);
        }
      }
      if (!updates.isEmpty()) {
        SecretManager.apply(updates, version).run();
        for (SecretProvider p : updates.keySet()) {
          watchSecretFiles(p);
        }
      }
    } catch (RuntimeException e) {
      for (SecretProvider p : count ? touched : List.<SecretProvider>of()) {
        secretStats.get(p).updateRejected.inc();
      }
      throw e;
    }
    for (SecretProvider p : count ? touched : List.<SecretProvider>of()) {
      secretStats.get(p).updateSuccess.inc();
    }
  }

  /**
   * Notes the files a dynamic secret reads ({@code filename} data sources), so that a change of one
   * of them (a write, or a ConfigMap's symlink swap, as {@code watched_directory}) rebuilds the
   * contexts using the secret, as Envoy does. Config thread only.
   */
  private void watchSecretFiles(SecretProvider p) {
    Secret secret = p.secret();
    List<String> names = new ArrayList<>();
    if (secret.hasTlsCertificate()) {
      var tc = secret.getTlsCertificate();
      for (var ds : List.of(tc.getCertificateChain(), tc.getPrivateKey())) {
        if (ds.hasFilename()) {
          names.add(ds.getFilename());
        }
      }
    } else if (secret.hasValidationContext()) {
      var vc = secret.getValidationContext();
      for (var ds : List.of(vc.getTrustedCa(), vc.getCrl())) {
        if (ds.hasFilename()) {
          names.add(ds.getFilename());
        }
      }
    }
    if (names.isEmpty()) {
      secretFiles.remove(p);
      return;
    }
    Map<Path, String> stamps = new LinkedHashMap<>();
    for (String n : names) {
      stamps.put(Path.of(n), stamp(Path.of(n)));
    }
    secretFiles.put(p, stamps);
    if (!secretFilesPolled && !validateOnly) {
      secretFilesPolled = true;
      timer.scheduleWithFixedDelay(() -> configThread.execute(this::pollSecretFiles), FILE_POLL_MS, FILE_POLL_MS, TimeUnit.MILLISECONDS);
    }
  }

  private static String stamp(Path f) {
    try {
      var a = Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class);
      return a.lastModifiedTime().toMillis() + "/" + a.size() + "/" + a.fileKey();
    } catch (java.io.IOException e) {
      return "missing";
    }
  }

  private void pollSecretFiles() {
    for (Map.Entry<SecretProvider, Map<Path, String>> e : List.copyOf(secretFiles.entrySet())) {
      boolean changed = false;
      for (Map.Entry<Path, String> f : e.getValue().entrySet()) {
        String now = stamp(f.getKey());
        if (!now.equals(f.getValue())) {
          f.setValue(now);
          changed = true;
        }
      }
      if (!changed) {
        continue;
      }
      SecretProvider p = e.getKey();
      try {
        SecretManager.apply(Map.of(p, p.secret()), p.version()).run();
        Log.info("xds", "secret '" + p.name() + "': files changed, TLS contexts rebuilt");
      } catch (RuntimeException ex) {
        stats.counter("sds." + p.name() + ".key_rotation_failed").inc();
        Log.warn("xds", "secret '" + p.name() + "': files changed but do not build: " + ex.getMessage());
      }
    }
  }

  // ---------------------------------------------------------------- config_dump

  private static Timestamp ts(long millis) {
    return Timestamp.newBuilder().setSeconds(millis / 1000).setNanos((int) (millis % 1000) * 1_000_000).build();
  }

  /** Adds {@code version_info} and {@code dynamic_active_clusters} to a clusters dump. */
  public void dumpClusters(ClustersConfigDump.Builder b) {
    if (cds == null) {
      return;
    }
    b.setVersionInfo(cdsVersion);
    for (Dynamic d : List.copyOf(dynamicClusters.values())) {
      b.addDynamicActiveClusters(
          ClustersConfigDump.DynamicCluster.newBuilder()
              .setVersionInfo(d.version())
              .setCluster(Any.pack(d.proto()))
              .setLastUpdated(ts(d.millis())));
    }
  }

  /** Adds {@code version_info} and {@code dynamic_listeners} to a listeners dump. */
  public void dumpListeners(ListenersConfigDump.Builder b) {
    if (lds == null) {
      return;
    }
    b.setVersionInfo(ldsVersion);
    for (Map.Entry<String, Dynamic> e : List.copyOf(dynamicListeners.entrySet())) {
      Dynamic d = e.getValue();
      b.addDynamicListeners(
          ListenersConfigDump.DynamicListener.newBuilder()
              .setName(e.getKey())
              .setActiveState(
                  ListenersConfigDump.DynamicListenerState.newBuilder()
                      .setVersionInfo(d.version())
                      .setListener(Any.pack(d.proto()))
                      .setLastUpdated(ts(d.millis()))));
    }
  }

  /** Adds {@code dynamic_active_secrets} and {@code dynamic_warming_secrets} to a secrets dump, private keys redacted. */
  public synchronized void dumpSecrets(io.envoyproxy.envoy.admin.v3.SecretsConfigDump.Builder b) {
    for (SecretProvider p : secretProviders.values()) {
      var d = io.envoyproxy.envoy.admin.v3.SecretsConfigDump.DynamicSecret.newBuilder().setName(p.name());
      if (p.secret() == null) {
        b.addDynamicWarmingSecrets(d);
        continue;
      }
      b.addDynamicActiveSecrets(
          d.setVersionInfo(p.version()).setLastUpdated(ts(p.lastUpdatedMillis())).setSecret(Any.pack(SecretManager.redacted(p.secret()))));
    }
  }

  /** Adds {@code dynamic_route_configs} to a routes dump. */
  public synchronized void dumpRoutes(RoutesConfigDump.Builder b) {
    for (RdsProvider p : routeProviders.values()) {
      if (p.proto() != null) {
        b.addDynamicRouteConfigs(
            RoutesConfigDump.DynamicRouteConfig.newBuilder()
                .setVersionInfo(p.version())
                .setRouteConfig(Any.pack(p.proto()))
                .setLastUpdated(ts(p.lastUpdatedMillis())));
      }
    }
  }
}

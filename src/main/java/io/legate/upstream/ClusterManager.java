package io.legate.upstream;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.legate.upstream.health.HealthChecker;
import io.legate.upstream.outlier.OutlierDetector;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * All clusters of the process, by name. Clusters are built on the main thread; DNS runs on the main
 * loop and never blocks it. Workers look clusters up with {@link #get} (a read of an immutable map)
 * and read each cluster's current {@link PrioritySet}.
 */
public final class ClusterManager {
  private final StatsStore stats;
  private final EventLoop mainLoop;
  private final DnsResolver dnsResolver;
  private final boolean ownsResolver;
  private final io.legate.grpc.GrpcChannels grpcChannels = new io.legate.grpc.GrpcChannels(this);
  private volatile Map<String, Cluster> clusters = Map.of();
  private volatile io.legate.tls.SecretManager secrets = new io.legate.tls.SecretManager();
  private final Set<String> staticNames = new HashSet<>();
  private final Map<Cluster, HealthChecker> healthCheckers =
      Collections.synchronizedMap(new java.util.WeakHashMap<>());
  private final Map<Cluster, OutlierDetector> outlierDetectors =
      Collections.synchronizedMap(new java.util.WeakHashMap<>());

  /**
   * Returns the gRPC channels to services named by {@code envoy_grpc} clusters or {@code google_grpc}
   * targets (ext_authz, rate limit service, access log service, tracers); closed by {@link
   * #shutdown()}.
   */
  public io.legate.grpc.GrpcChannels grpcChannels() {
    return grpcChannels;
  }

  /** Returns the secrets the clusters' TLS contexts take by name. */
  public io.legate.tls.SecretManager secrets() {
    return secrets;
  }

  /** Sets the secrets the clusters' TLS contexts take by name; called before clusters are added. */
  public void setSecrets(io.legate.tls.SecretManager secrets) {
    this.secrets = secrets;
  }

  /** Creates a manager whose DNS clusters use the system's name servers and {@code /etc/hosts}. */
  /** Returns the server's stats store. */
  public StatsStore stats() {
    return stats;
  }

  public ClusterManager(StatsStore stats, EventLoop mainLoop) {
    this(stats, mainLoop, new NettyDnsResolver(mainLoop), true);
  }

  /**
   * Creates a manager whose DNS clusters use {@code dnsResolver} (tests pass one pointed at a local
   * name server).
   *
   * @param ownsResolver whether {@link #shutdown()} closes the resolver
   */
  public ClusterManager(
      StatsStore stats, EventLoop mainLoop, DnsResolver dnsResolver, boolean ownsResolver) {
    this.stats = stats;
    this.mainLoop = mainLoop;
    this.dnsResolver = dnsResolver;
    this.ownsResolver = ownsResolver;
  }

  /**
   * Builds and adds the bootstrap's static clusters. Nothing is added when any of them is invalid.
   *
   * @param pathPrefix the field path of the list, {@code static_resources.clusters}
   * @throws ConfigException naming the field of the first error, or
   *     {@code cluster manager: duplicate cluster '<name>'}
   */
  public synchronized void addStaticClusters(
      List<io.envoyproxy.envoy.config.cluster.v3.Cluster> protos, String pathPrefix) {
    Map<String, Cluster> next = new LinkedHashMap<>(clusters);
    List<Cluster> built = new ArrayList<>();
    try {
      for (int i = 0; i < protos.size(); i++) {
        io.envoyproxy.envoy.config.cluster.v3.Cluster proto = protos.get(i);
        if (next.containsKey(proto.getName())) {
          throw new ConfigException(
              "cluster manager: duplicate cluster '" + proto.getName() + "'");
        }
        Cluster c = create(proto, pathPrefix + "[" + i + "]");
        built.add(c);
        next.put(proto.getName(), c);
      }
    } catch (RuntimeException e) {
      for (Cluster c : built) {
        c.shutdown();
      }
      throw e;
    }
    for (Cluster c : built) {
      staticNames.add(c.info().name());
    }
    clusters = Collections.unmodifiableMap(next);
  }

  /**
   * Adds a cluster, or replaces the one with the same name (as CDS does); the old one is shut down
   * and the new one initialized. Static clusters cannot be replaced. Returns the new cluster.
   */
  public Cluster addOrUpdateCluster(io.envoyproxy.envoy.config.cluster.v3.Cluster proto) {
    return addOrUpdateCluster(proto, proto.getName());
  }

  /**
   * Adds or replaces a cluster as {@link #addOrUpdateCluster(io.envoyproxy.envoy.config.cluster.v3.Cluster)},
   * naming it {@code path} in error messages (the CDS resource name, for a NACK).
   */
  public Cluster addOrUpdateCluster(
      io.envoyproxy.envoy.config.cluster.v3.Cluster proto, String path) {
    return addOrUpdateCluster(proto, path, c -> {}, old -> {});
  }

  /**
   * Adds or replaces a dynamic cluster, as Envoy's cluster manager: a new cluster is published at
   * once; a replacement warms first (its first EDS assignment, DNS answer or health checks) while
   * the old one keeps serving, and takes its place only then, so that no request finds a cluster
   * without hosts.
   *
   * @param prime called with the new cluster before it initializes (e.g. to give an EDS cluster
   *     the last known assignment of its service)
   * @param replaced called with the old cluster once the new one serves in its place (to drain it)
   */
  public Cluster addOrUpdateCluster(
      io.envoyproxy.envoy.config.cluster.v3.Cluster proto,
      String path,
      java.util.function.Consumer<Cluster> prime,
      java.util.function.Consumer<Cluster> replaced) {
    Cluster c;
    Cluster old;
    synchronized (this) {
      if (staticNames.contains(proto.getName())) {
        throw new ConfigException(
            "cluster manager: cannot update static cluster '" + proto.getName() + "'");
      }
      c = create(proto, path);
      old = clusters.get(proto.getName());
      if (old == null) {
        publish(proto.getName(), c);
      }
    }
    prime.accept(c);
    CompletableFuture<Void> warm = c.initialize();
    if (old != null) {
      warm.whenComplete(
          (v, e) -> {
            synchronized (ClusterManager.this) {
              if (clusters.get(proto.getName()) != old) {
                // removed or replaced again meanwhile: this one never serves
                c.shutdown();
                return;
              }
              publish(proto.getName(), c);
            }
            old.shutdown();
            replaced.accept(old);
          });
    }
    return c;
  }

  private void publish(String name, Cluster c) {
    Map<String, Cluster> next = new LinkedHashMap<>(clusters);
    next.put(name, c);
    clusters = Collections.unmodifiableMap(next);
  }


  /** Removes a dynamic cluster; returns whether it existed. Static clusters are not removed. */
  public synchronized boolean removeCluster(String name) {
    if (staticNames.contains(name) || !clusters.containsKey(name)) {
      return false;
    }
    Map<String, Cluster> next = new LinkedHashMap<>(clusters);
    Cluster old = next.remove(name);
    clusters = Collections.unmodifiableMap(next);
    old.shutdown();
    return true;
  }

  private Cluster create(io.envoyproxy.envoy.config.cluster.v3.Cluster proto, String path) {
    ClusterInfo info = ClusterInfo.build(proto, path, stats, secrets);
    Cluster c = discovery(info);
    HealthChecker hc =
        info.healthCheck() == null ? null : HealthChecker.attach(c, info.healthCheck(), mainLoop);
    OutlierDetector od =
        info.outlierDetection() == null
            ? null
            : OutlierDetector.attach(c, info.outlierDetection(), mainLoop);
    if (hc != null) {
      healthCheckers.put(c, hc);
      if (od != null) {
        hc.addCheckCompleteListener(od::onHealthCheckResult);
      }
    }
    if (od != null) {
      outlierDetectors.put(c, od);
    }
    return c;
  }

  private Cluster discovery(ClusterInfo info) {
    return switch (info.type()) {
      case STATIC -> new StaticCluster(info, mainLoop);
      case STRICT_DNS -> info.dnsResolvers().isEmpty()
          ? new StrictDnsCluster(info, mainLoop, dnsResolver, false)
          : new StrictDnsCluster(info, mainLoop, ownResolver(info), true);
      case LOGICAL_DNS -> info.dnsResolvers().isEmpty()
          ? new LogicalDnsCluster(info, mainLoop, dnsResolver, false)
          : new LogicalDnsCluster(info, mainLoop, ownResolver(info), true);
      case EDS -> new EdsCluster(info, mainLoop);
    };
  }

  private DnsResolver ownResolver(ClusterInfo info) {
    return new NettyDnsResolver(mainLoop, info.dnsResolvers(), true, 5000);
  }

  /** Returns the cluster named {@code name}, or null if there is none. */
  public Cluster get(String name) {
    return clusters.get(name);
  }

  /** Returns whether a cluster named {@code name} exists. */
  public boolean exists(String name) {
    return clusters.containsKey(name);
  }

  /** Returns all clusters in the order they were added. */
  public Collection<Cluster> clusters() {
    return clusters.values();
  }

  /** Returns the health checker of {@code cluster}, or null when it has no health checks. */
  public HealthChecker healthChecker(Cluster cluster) {
    return healthCheckers.get(cluster);
  }

  /** Returns the outlier detector of {@code cluster}, or null when it has none. */
  public OutlierDetector outlierDetector(Cluster cluster) {
    return outlierDetectors.get(cluster);
  }

  /**
   * Initializes every cluster; the future completes when all are warm: discovery finished and, for
   * clusters with health checks, each host had its first check (as Envoy's cluster warming).
   */
  public CompletableFuture<Void> initialize() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (Cluster c : clusters.values()) {
      HealthChecker hc = healthCheckers.get(c);
      all.add(hc == null ? c.initialize() : c.initialize().thenCompose(v -> hc.awaitFirstChecks()));
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  /** Shuts every cluster down and closes the shared resolver. */
  public synchronized void shutdown() {
    grpcChannels.close();
    for (Cluster c : clusters.values()) {
      c.shutdown();
    }
    if (ownsResolver) {
      dnsResolver.close();
    }
  }

}

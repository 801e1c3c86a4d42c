package io.legate.grpc;

import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.legate.config.ConfigException;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.Host;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * gRPC channels for the extensions that call services (ext_authz, rate limit service, access log
 * service, trace collectors): one channel per {@code envoy_grpc} cluster (and authority) or {@code
 * google_grpc} target, shared by every caller and built on first use.
 *
 * <p>An {@code envoy_grpc} channel resolves its addresses from the Legate cluster of that name and
 * follows its membership (EDS, DNS, CDS replacement) and health: grpc-java round-robins over the
 * healthy hosts, or over all hosts when none is healthy. Calls run on the channels' own event loop,
 * never on a worker; callers get their answers through grpc-java's asynchronous stubs and must hop
 * back to their worker before touching stream state. Channels are plaintext (TLS to gRPC services is
 * not supported yet).
 */
public final class GrpcChannels implements AutoCloseable {
  private final ClusterManager clusters;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile NioEventLoopGroup group;
  private volatile boolean closed;

  /** Creates the (empty) set of channels over these clusters. */
  public GrpcChannels(ClusterManager clusters) {
    this.clusters = clusters;
  }

  /**
   * Checks a {@code GrpcService} at config time: an {@code envoy_grpc} cluster must exist, a {@code
   * google_grpc} target must be given.
   *
   * @param path the field path of the {@code GrpcService}, for the error
   * @throws ConfigException naming the field
   */
  public static void validate(GrpcService service, String path, ClusterManager clusters) {
    if (service.hasEnvoyGrpc()) {
      String name = service.getEnvoyGrpc().getClusterName();
      if (clusters != null && !clusters.exists(name)) {
        throw new ConfigException(path + ".envoy_grpc.cluster_name", "unknown cluster '" + name + "'");
      }
    } else if (service.hasGoogleGrpc()) {
      if (service.getGoogleGrpc().getTargetUri().isEmpty()) {
        throw new ConfigException(path + ".google_grpc.target_uri", "must not be empty");
      }
    } else {
      throw new ConfigException(path, "one of envoy_grpc or google_grpc is required");
    }
  }

  /** Returns the {@code GrpcService.timeout} in milliseconds, or {@code defaultMs} when unset. */
  public static long timeoutMillis(GrpcService service, long defaultMs) {
    if (!service.hasTimeout()) {
      return defaultMs;
    }
    return service.getTimeout().getSeconds() * 1000 + service.getTimeout().getNanos() / 1_000_000;
  }

  /**
   * Returns the shared channel for this service, building it on first use.
   *
   * @throws IllegalStateException after {@link #close()}
   */
  public ManagedChannel channel(GrpcService service) {
    String key;
    if (service.hasEnvoyGrpc()) {
      key = "cluster:" + service.getEnvoyGrpc().getClusterName() + "|" + service.getEnvoyGrpc().getAuthority();
    } else {
      key = "target:" + service.getGoogleGrpc().getTargetUri();
    }
    ManagedChannel c = channels.get(key);
    if (c != null) {
      return c;
    }
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("gRPC channels are closed");
      }
      return channels.computeIfAbsent(key, k -> build(service));
    }
  }

  private ManagedChannel build(GrpcService service) {
    if (group == null) {
      group = new NioEventLoopGroup(1, new DefaultThreadFactory("legate-grpc-client", true));
    }
    NettyChannelBuilder b;
    if (service.hasEnvoyGrpc()) {
      String cluster = service.getEnvoyGrpc().getClusterName();
      String authority = service.getEnvoyGrpc().getAuthority().isEmpty() ? cluster : service.getEnvoyGrpc().getAuthority();
      b = NettyChannelBuilder.forTarget("legate-cluster:///" + cluster);
      b.nameResolverFactory(new ClusterResolverFactory(cluster, authority));
      b.defaultLoadBalancingPolicy("round_robin");
    } else {
      b = NettyChannelBuilder.forTarget(service.getGoogleGrpc().getTargetUri());
    }
    return b.eventLoopGroup(group)
        .channelType(NioSocketChannel.class)
        .usePlaintext()
        .userAgent("legate")
        .build();
  }

  /** Shuts every channel down (in-flight calls fail with UNAVAILABLE). */
  @Override
  public synchronized void close() {
    closed = true;
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
    channels.clear();
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  private final class ClusterResolverFactory extends NameResolver.Factory {
    private final String cluster;
    private final String authority;

    ClusterResolverFactory(String cluster, String authority) {
      this.cluster = cluster;
      this.authority = authority;
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
      return new ClusterResolver(cluster, authority);
    }

    @Override
    public String getDefaultScheme() {
      return "legate-cluster";
    }
  }

  /** Resolves a cluster name to its hosts, and re-resolves when the cluster's membership changes. */
  private final class ClusterResolver extends NameResolver {
    private final String clusterName;
    private final String authority;
    private Listener2 listener;
    private Cluster watched;
    private final Consumer<io.legate.upstream.PrioritySet> onUpdate = ps -> refresh();

    ClusterResolver(String clusterName, String authority) {
      this.clusterName = clusterName;
      this.authority = authority;
    }

    @Override
    public String getServiceAuthority() {
      return authority;
    }

    @Override
    public void start(Listener2 listener) {
      this.listener = listener;
      refresh();
    }

    @Override
    public synchronized void refresh() {
      if (listener == null) {
        return;
      }
      Cluster cluster = clusters.get(clusterName);
      if (cluster != watched) {
        if (watched != null) {
          watched.removeUpdateListener(onUpdate);
        }
        watched = cluster;
        if (cluster != null) {
          cluster.addUpdateListener(onUpdate);
        }
      }
      List<Host> hosts = cluster == null ? List.of() : cluster.prioritySet().hosts();
      List<EquivalentAddressGroup> healthy = new ArrayList<>();
      List<EquivalentAddressGroup> all = new ArrayList<>();
      for (Host h : hosts) {
        EquivalentAddressGroup g = new EquivalentAddressGroup(h.address());
        all.add(g);
        if (h.healthy()) {
          healthy.add(g);
        }
      }
      if (all.isEmpty()) {
        listener.onError(Status.UNAVAILABLE.withDescription("cluster '" + clusterName + "' has no hosts"));
        return;
      }
      listener.onResult(
          ResolutionResult.newBuilder()
              .setAddresses(healthy.isEmpty() ? all : healthy)
              .setAttributes(Attributes.EMPTY)
              .build());
    }

    @Override
    public synchronized void shutdown() {
      if (watched != null) {
        watched.removeUpdateListener(onUpdate);
        watched = null;
      }
      listener = null;
    }
  }
}

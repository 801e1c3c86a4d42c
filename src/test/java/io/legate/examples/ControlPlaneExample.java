package io.legate.examples;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import com.google.protobuf.Any;
import com.google.protobuf.util.Durations;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * A minimal control plane on java-control-plane, the one Legate's README shows: it serves one
 * listener that routes everything to one cluster, over ADS (state of the world and delta). Run it,
 * then {@code ./legate -c examples/control-plane/bootstrap.yaml}, then {@code curl
 * localhost:10000/}.
 *
 * <pre>
 * mvn -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp "target/test-classes:target/classes:$(cat target/cp.txt)" io.legate.examples.ControlPlaneExample 127.0.0.1:8080
 * </pre>
 */
public final class ControlPlaneExample implements AutoCloseable {
  private final SimpleCache<String> cache = new SimpleCache<>(node -> "legate");
  private final Server server;
  private int version;

  /** Starts the control plane on {@code port} (0: any). */
  public ControlPlaneExample(int port) throws Exception {
    V3DiscoveryServer xds = new V3DiscoveryServer(cache);
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
            .addService(xds.getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
  }

  /** Returns the control plane's port. */
  public int port() {
    return server.getPort();
  }

  /** Pushes a new version: a listener on {@code listenerPort} routing to {@code backend} (host:port). */
  public void serve(int listenerPort, String backendHost, int backendPort) {
    Cluster cluster =
        Cluster.newBuilder()
            .setName("backend")
            .setConnectTimeout(Durations.fromSeconds(1))
            .setType(Cluster.DiscoveryType.STATIC)
            .setLoadAssignment(
                ClusterLoadAssignment.newBuilder()
                    .setClusterName("backend")
                    .addEndpoints(
                        LocalityLbEndpoints.newBuilder()
                            .addLbEndpoints(
                                LbEndpoint.newBuilder()
                                    .setEndpoint(Endpoint.newBuilder().setAddress(address(backendHost, backendPort))))))
            .build();
    RouteConfiguration routes =
        RouteConfiguration.newBuilder()
            .setName("local")
            .addVirtualHosts(
                VirtualHost.newBuilder()
                    .setName("all")
                    .addDomains("*")
                    .addRoutes(
                        Route.newBuilder()
                            .setMatch(RouteMatch.newBuilder().setPrefix("/"))
                            .setRoute(RouteAction.newBuilder().setCluster("backend"))))
            .build();
    HttpConnectionManager hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("ingress")
            .setRouteConfig(routes)
            .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router").setTypedConfig(Any.pack(Router.getDefaultInstance())))
            .build();
    Listener listener =
        Listener.newBuilder()
            .setName("front")
            .setAddress(address("127.0.0.1", listenerPort))
            .addFilterChains(
                FilterChain.newBuilder()
                    .addFilters(Filter.newBuilder().setName("envoy.filters.network.http_connection_manager").setTypedConfig(Any.pack(hcm))))
            .build();
    version++;
    cache.setSnapshot("legate", Snapshot.create(List.of(cluster), List.of(), List.of(listener), List.of(), List.of(), "v" + version));
  }

  private static Address address(String host, int port) {
    return Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port)).build();
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  /** Serves on 127.0.0.1:18000 a listener on :10000 that proxies to the backend given as host:port. */
  public static void main(String[] args) throws Exception {
    String backend = args.length > 0 ? args[0] : "127.0.0.1:8080";
    int colon = backend.lastIndexOf(':');
    try (ControlPlaneExample cp = new ControlPlaneExample(18000)) {
      cp.serve(10000, backend.substring(0, colon), Integer.parseInt(backend.substring(colon + 1)));
      System.out.println("control plane on 127.0.0.1:18000: listener :10000 -> " + backend + " (Ctrl-C to stop)");
      Thread.currentThread().join();
    }
  }
}

package io.legate.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Message;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.netty.NettyServerBuilder;
import io.legate.config.ConfigLoader;
import io.legate.server.Server;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AdsIntegrationTest {
  static final String BOOTSTRAP =
      """
      node: {id: n1, cluster: c1}
      dynamic_resources:
        ads_config:
          api_type: GRPC
          transport_api_version: V3
          grpc_services: [{envoy_grpc: {cluster_name: xds_cluster}}]
        cds_config: {resource_api_version: V3, ads: {}}
        lds_config: {resource_api_version: V3, ads: {}}
      static_resources:
        clusters:
        - name: xds_cluster
          type: STATIC
          load_assignment:
            cluster_name: xds_cluster
            endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${CP}}}}}]}]
      admin:
        address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      """;

  final SimpleCache<String> cache = new SimpleCache<>(node -> "all");
  final ConcurrentLinkedQueue<DiscoveryRequest> requests = new ConcurrentLinkedQueue<>();
  io.grpc.Server controlPlane;

  @BeforeEach
  void startControlPlane() throws Exception {
    DiscoveryServerCallbacks callbacks =
        new DiscoveryServerCallbacks() {
          @Override
          public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
            requests.add(request);
          }

          @Override
          public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
        };
    V3DiscoveryServer server = new V3DiscoveryServer(callbacks, cache);
    controlPlane =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(server.getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
  }

  @AfterEach
  void stopControlPlane() {
    controlPlane.shutdownNow();
  }

  static <T extends Message> T parse(String yaml, Message.Builder b) {
    @SuppressWarnings("unchecked")
    T m = (T) ConfigLoader.parse(yaml, b, "test").build();
    return m;
  }

  static Cluster edsCluster(String name, String extra) {
    return parse("{name: " + name + ", type: EDS, eds_cluster_config: {eds_config: {ads: {}, resource_api_version: V3}}" + extra + "}", Cluster.newBuilder());
  }

  static ClusterLoadAssignment endpoints(String cluster, int port) {
    return parse(
        "{cluster_name: " + cluster + ", endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: " + port + "}}}}]}]}",
        ClusterLoadAssignment.newBuilder());
  }

  static Listener listener(String name) {
    return parse(
        """
        name: %s
        address: {socket_address: {address: 127.0.0.1, port_value: 0}}
        filter_chains:
        - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: ingress
              rds: {route_config_name: rc, config_source: {ads: {}, resource_api_version: V3}}
              http_filters:
              - name: envoy.filters.http.router
                typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
        """.formatted(name),
        Listener.newBuilder());
  }

  static RouteConfiguration route(String cluster) {
    return parse(
        "{name: rc, virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: " + cluster + "}}]}]}",
        RouteConfiguration.newBuilder());
  }

  void push(String version, List<Cluster> clusters, List<ClusterLoadAssignment> cla, List<Listener> listeners, List<RouteConfiguration> routes) {
    cache.setSnapshot("all", Snapshot.create(clusters, cla, listeners, routes, List.of(), version));
  }

  static void eventually(Supplier<Boolean> condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.get()) {
      assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  static CompletableFuture<HttpResponse<String>> send(int port, String path) {
    return CLIENT.sendAsync(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String upstreamOf(Server s) {
    try {
      return send(s.listenerAddress("l1").getPort(), "/x").get().headers().firstValue("x-upstream").orElse("none");
    } catch (Exception e) {
      return "error: " + e;
    }
  }

  @Test
  void trafficFollowsPushedConfig() throws Exception {
    try (TestUpstream a = new TestUpstream("a"); TestUpstream b = new TestUpstream("b")) {
      push("v1", List.of(edsCluster("svc", "")), List.of(endpoints("svc", a.port())), List.of(listener("l1")), List.of(route("svc")));
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("CP", controlPlane.getPort()))) {
        Server s = legate.server();
        eventually(() -> upstreamOf(s).equals("a"));
        assertThat(s.stats().gauge("control_plane.connected_state").value()).isEqualTo(1);
        DiscoveryRequest first = requests.peek();
        assertThat(first.getNode().getId()).isEqualTo("n1");
        assertThat(first.getTypeUrl()).isEqualTo(ResourceType.CLUSTER.typeUrl());

        // a route change to a new cluster, while a slow request is in flight on the old route
        int port = s.listenerAddress("l1").getPort();
        CompletableFuture<HttpResponse<String>> inFlight = send(port, "/delay/1500");
        Thread.sleep(300);
        push(
            "v2",
            List.of(edsCluster("svc", ""), edsCluster("svc2", "")),
            List.of(endpoints("svc", a.port()), endpoints("svc2", b.port())),
            List.of(listener("l1")),
            List.of(route("svc2")));
        eventually(() -> upstreamOf(s).equals("b"));
        HttpResponse<String> slow = inFlight.get();
        assertThat(slow.statusCode()).isEqualTo(200);
        assertThat(slow.headers().firstValue("x-upstream")).hasValue("a");
        assertThat(s.stats().counter("http.ingress.rds.rc.update_success").value()).isGreaterThanOrEqualTo(2);

        // a bad cluster is NACKed with its field path; no cluster of v3 applies, svc2 keeps its endpoints
        push(
            "v3",
            List.of(edsCluster("svc", ""), edsCluster("svc2", ", connect_timeout: -1s")),
            List.of(endpoints("svc", a.port()), endpoints("svc2", b.port())),
            List.of(listener("l1")),
            List.of(route("svc2")));
        eventually(() -> requests.stream().anyMatch(DiscoveryRequest::hasErrorDetail));
        DiscoveryRequest nack = requests.stream().filter(DiscoveryRequest::hasErrorDetail).findFirst().orElseThrow();
        assertThat(nack.getTypeUrl()).isEqualTo(ResourceType.CLUSTER.typeUrl());
        assertThat(nack.getVersionInfo()).isEqualTo("v2");
        assertThat(nack.getErrorDetail().getMessage()).isEqualTo("svc2.connect_timeout: value must be greater than 0s");
        assertThat(nack.getErrorDetail().getCode()).isEqualTo(3);
        assertThat(s.stats().counter("cluster_manager.cds.update_rejected").value()).isGreaterThanOrEqualTo(1);
        assertThat(upstreamOf(s)).isEqualTo("b");

        // config_dump shows the dynamic resources with their versions
        String dump = legate.client().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + legate.adminPort() + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(dump).contains("\"dynamic_active_clusters\"", "\"dynamic_listeners\"", "\"dynamic_route_configs\"", "\"version_info\": \"v2\"");

        // the listener removed: it stops accepting and its connections drain
        push("v4", List.of(edsCluster("svc", "")), List.of(endpoints("svc", a.port())), List.of(), List.of());
        eventually(() -> s.stats().counter("listener_manager.listener_removed").value() == 1);
        eventually(() -> s.stats().gauge("listener_manager.total_listeners_draining").value() == 0);
        assertThatThrownBy(() -> send(port, "/x").get()).hasCauseInstanceOf(ConnectException.class);
        assertThat(s.stats().counter("cluster_manager.cluster_removed").value()).isEqualTo(1);
      }
    }
  }

  @Test
  void controlPlaneRestartKeepsServingAndResubscribes() throws Exception {
    try (TestUpstream a = new TestUpstream("a"); TestUpstream b = new TestUpstream("b")) {
      push("v1", List.of(edsCluster("svc", "")), List.of(endpoints("svc", a.port())), List.of(listener("l1")), List.of(route("svc")));
      int cpPort = controlPlane.getPort();
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("CP", cpPort))) {
        Server s = legate.server();
        eventually(() -> upstreamOf(s).equals("a"));

        // The control plane goes away: Legate keeps serving the last config.
        controlPlane.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        eventually(() -> s.stats().gauge("control_plane.connected_state").value() == 0);
        for (int i = 0; i < 5; i++) {
          assertThat(upstreamOf(s)).isEqualTo("a");
        }

        // It comes back on the same address with a new version: Legate reconnects and follows it.
        push("v2", List.of(edsCluster("svc", "")), List.of(endpoints("svc", b.port())), List.of(listener("l1")), List.of(route("svc")));
        V3DiscoveryServer server = new V3DiscoveryServer(cache);
        controlPlane =
            NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", cpPort))
                .addService(server.getAggregatedDiscoveryServiceImpl())
                .build()
                .start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!upstreamOf(s).equals("b") && System.nanoTime() < deadline) {
          Thread.sleep(100);
        }
        assertThat(upstreamOf(s)).isEqualTo("b");
        assertThat(s.stats().gauge("control_plane.connected_state").value()).isEqualTo(1);
      }
    }
  }
}

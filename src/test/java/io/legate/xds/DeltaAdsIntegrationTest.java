package io.legate.xds;

import static io.legate.xds.AdsIntegrationTest.edsCluster;
import static io.legate.xds.AdsIntegrationTest.endpoints;
import static io.legate.xds.AdsIntegrationTest.eventually;
import static io.legate.xds.AdsIntegrationTest.listener;
import static io.legate.xds.AdsIntegrationTest.route;
import static io.legate.xds.AdsIntegrationTest.send;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import io.legate.server.Server;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Incremental xDS over ADS against java-control-plane: LDS, CDS, EDS and RDS added, changed, removed and NACKed. */
class DeltaAdsIntegrationTest {
  static final String BOOTSTRAP = AdsIntegrationTest.BOOTSTRAP.replace("api_type: GRPC", "api_type: DELTA_GRPC");

  final SimpleCache<String> cache = new SimpleCache<>(node -> "all");
  final ConcurrentLinkedQueue<DeltaDiscoveryRequest> requests = new ConcurrentLinkedQueue<>();
  io.grpc.Server controlPlane;

  @BeforeEach
  void startControlPlane() throws Exception {
    DiscoveryServerCallbacks callbacks =
        new DiscoveryServerCallbacks() {
          @Override
          public void onV3StreamRequest(long streamId, DiscoveryRequest request) {}

          @Override
          public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
            requests.add(request);
          }
        };
    controlPlane =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(new V3DiscoveryServer(callbacks, cache).getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
  }

  @AfterEach
  void stopControlPlane() {
    controlPlane.shutdownNow();
  }

  void push(String version, List<Cluster> clusters, List<ClusterLoadAssignment> cla, List<Listener> listeners, List<RouteConfiguration> routes) {
    cache.setSnapshot("all", Snapshot.create(clusters, cla, listeners, routes, List.of(), version));
  }

  static String upstreamOf(Server s, String listener) {
    try {
      return send(s.listenerAddress(listener).getPort(), "/x").get().headers().firstValue("x-upstream").orElse("none");
    } catch (Exception e) {
      return "error: " + e;
    }
  }

  @Test
  void deltaUpdatesAddChangeRemoveAndNack() throws Exception {
    try (TestUpstream a = new TestUpstream("a"); TestUpstream b = new TestUpstream("b")) {
      push("v1", List.of(edsCluster("svc", "")), List.of(endpoints("svc", a.port())), List.of(listener("l1")), List.of(route("svc")));
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("CP", controlPlane.getPort()))) {
        Server s = legate.server();
        eventually(() -> upstreamOf(s, "l1").equals("a"));
        DeltaDiscoveryRequest first = requests.peek();
        assertThat(first.getNode().getId()).isEqualTo("n1");
        assertThat(first.getTypeUrl()).isEqualTo(ResourceType.CLUSTER.typeUrl());
        assertThat(first.getResourceNamesSubscribeList()).isEmpty();
        DeltaDiscoveryRequest eds =
            requests.stream().filter(r -> r.getTypeUrl().equals(ResourceType.ENDPOINT.typeUrl())).findFirst().orElseThrow();
        assertThat(eds.getResourceNamesSubscribeList()).containsExactly("svc");
        DeltaDiscoveryRequest rds =
            requests.stream().filter(r -> r.getTypeUrl().equals(ResourceType.ROUTE.typeUrl())).findFirst().orElseThrow();
        assertThat(rds.getResourceNamesSubscribeList()).containsExactly("rc");
        assertThat(s.stats().counter("listener_manager.lds.update_success").value()).isEqualTo(1);

        // a listener added on a new port; the endpoints of svc replaced (a removed, b added)
        push("v2", List.of(edsCluster("svc", "")), List.of(endpoints("svc", b.port())), List.of(listener("l1"), listener("l2")), List.of(route("svc")));
        eventually(() -> s.listeners().size() == 2);
        eventually(() -> upstreamOf(s, "l2").equals("b"));
        assertThat(upstreamOf(s, "l1")).isEqualTo("b");
        assertThat(s.listenerAddress("l2").getPort()).isNotEqualTo(s.listenerAddress("l1").getPort());

        // an invalid cluster: NACKed with error_detail, nothing of it applies, traffic keeps flowing
        push(
            "v3",
            List.of(edsCluster("svc", ""), edsCluster("svc2", ", connect_timeout: -1s")),
            List.of(endpoints("svc", b.port())),
            List.of(listener("l1"), listener("l2")),
            List.of(route("svc")));
        eventually(() -> requests.stream().anyMatch(DeltaDiscoveryRequest::hasErrorDetail));
        DeltaDiscoveryRequest nack = requests.stream().filter(DeltaDiscoveryRequest::hasErrorDetail).findFirst().orElseThrow();
        assertThat(nack.getTypeUrl()).isEqualTo(ResourceType.CLUSTER.typeUrl());
        assertThat(nack.getResponseNonce()).isNotEmpty();
        assertThat(nack.getErrorDetail().getMessage()).isEqualTo("svc2.connect_timeout: value must be greater than 0s");
        assertThat(nack.getErrorDetail().getCode()).isEqualTo(3);
        assertThat(s.stats().counter("cluster_manager.cds.update_rejected").value()).isEqualTo(1);
        assertThat(s.clusterManager().get("svc2")).isNull();
        assertThat(upstreamOf(s, "l1")).isEqualTo("b");

        // the listener removed (removed_resources): it stops accepting
        int port2 = s.listenerAddress("l2").getPort();
        push("v4", List.of(edsCluster("svc", "")), List.of(endpoints("svc", b.port())), List.of(listener("l1")), List.of(route("svc")));
        eventually(() -> s.stats().counter("listener_manager.listener_removed").value() == 1);
        eventually(() -> s.stats().gauge("listener_manager.total_listeners_draining").value() == 0);
        assertThatThrownBy(() -> send(port2, "/x").get()).hasCauseInstanceOf(ConnectException.class);
        assertThat(upstreamOf(s, "l1")).isEqualTo("b");
        assertThat(requests.stream().filter(r -> r.getTypeUrl().equals(ResourceType.LISTENER.typeUrl()) && r.hasErrorDetail())).isEmpty();
      }
    }
  }
}

package io.legate.xds;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Continuous requests from several keep-alive clients while a control plane pushes 20 changes —
 * routes, endpoints, clusters and the listener itself, in turn: not one request may fail.
 */
class ZeroDowntimeIntegrationTest {
  static final String BOOTSTRAP = AdsIntegrationTest.BOOTSTRAP;

  static Listener listener(String statPrefix) {
    return AdsIntegrationTest.parse(
        """
        name: l1
        address: {socket_address: {address: 127.0.0.1, port_value: 0}}
        filter_chains:
        - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: %s
              rds: {route_config_name: rc, config_source: {ads: {}, resource_api_version: V3}}
              http_filters:
              - name: envoy.filters.http.router
                typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
        """.formatted(statPrefix),
        Listener.newBuilder());
  }

  static ClusterLoadAssignment endpoints(String cluster, int... ports) {
    StringBuilder sb = new StringBuilder("{cluster_name: " + cluster + ", endpoints: [{lb_endpoints: [");
    for (int i = 0; i < ports.length; i++) {
      sb.append(i == 0 ? "" : ", ").append("{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ").append(ports[i]).append("}}}}");
    }
    sb.append("]}]}");
    return AdsIntegrationTest.parse(sb.toString(), ClusterLoadAssignment.newBuilder());
  }

  @Test
  void twentyChangesUnderLoadFailNoRequest() throws Exception {
    SimpleCache<String> cache = new SimpleCache<>(node -> "all");
    V3DiscoveryServer xds =
        new V3DiscoveryServer(
            new DiscoveryServerCallbacks() {
              @Override
              public void onV3StreamRequest(long streamId, DiscoveryRequest request) {}

              @Override
              public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
            },
            cache);
    io.grpc.Server cp =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(xds.getAggregatedDiscoveryServiceImpl()).build().start();
    try (TestUpstream a = new TestUpstream("a");
        TestUpstream b = new TestUpstream("b");
        TestUpstream c = new TestUpstream("c")) {
      List<Cluster> clusters = List.of(AdsIntegrationTest.edsCluster("svc1", ""), AdsIntegrationTest.edsCluster("svc2", ""));
      cache.setSnapshot(
          "all",
          Snapshot.create(
              clusters,
              List.of(endpoints("svc1", a.port()), endpoints("svc2", b.port())),
              List.of(listener("ingress0")),
              List.of(AdsIntegrationTest.route("svc1")),
              List.of(),
              "v0"));
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("CP", cp.getPort()))) {
        Server s = legate.server();
        AdsIntegrationTest.eventually(() -> AdsIntegrationTest.upstreamOf(s).equals("a"));
        int port = s.listenerAddress("l1").getPort();

        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong ok = new AtomicLong();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        Map<String, AtomicLong> byUpstream = new ConcurrentHashMap<>();
        List<Thread> clients = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          Thread th =
              new Thread(
                  () -> {
                    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                    HttpRequest req =
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/x")).timeout(Duration.ofSeconds(10)).build();
                    while (running.get()) {
                      try {
                        HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                          ok.incrementAndGet();
                          byUpstream.computeIfAbsent(r.headers().firstValue("x-upstream").orElse("?"), k -> new AtomicLong()).incrementAndGet();
                        } else {
                          failures.add("status " + r.statusCode() + " " + r.headers().map());
                        }
                      } catch (Exception e) {
                        failures.add(e.toString());
                      }
                    }
                  });
          th.start();
          clients.add(th);
        }
        int[][] endpointSets = {{a.port()}, {a.port(), c.port()}, {c.port()}, {a.port()}};
        String route = "svc1";
        int epIndex = 0;
        String prefix = "ingress0";
        String timeout = "";
        for (int i = 1; i <= 20; i++) {
          switch (i % 4) {
            case 0 -> route = route.equals("svc1") ? "svc2" : "svc1";
            case 1 -> epIndex = (epIndex + 1) % endpointSets.length;
            case 2 -> timeout = timeout.isEmpty() ? ", connect_timeout: 2s" : "";
            default -> prefix = "ingress" + i;
          }
          cache.setSnapshot(
              "all",
              Snapshot.create(
                  List.of(AdsIntegrationTest.edsCluster("svc1", timeout), AdsIntegrationTest.edsCluster("svc2", "")),
                  List.of(endpoints("svc1", endpointSets[epIndex]), endpoints("svc2", b.port())),
                  List.of(listener(prefix)),
                  List.of(AdsIntegrationTest.route(route)),
                  List.of(),
                  "v" + i));
          Thread.sleep(150);
        }
        Thread.sleep(1500); // let the last listener's old connections drain
        running.set(false);
        for (Thread th : clients) {
          th.join(15_000);
        }
        System.out.printf("zero downtime: %d requests over 20 changes, by upstream %s%n", ok.get(), byUpstream);
        assertThat(failures).as("failed requests").isEmpty();
        assertThat(ok.get()).isGreaterThan(100);
        assertThat(byUpstream.keySet()).as("traffic followed the changes").contains("a", "b", "c");
        assertThat(s.stats().counter("listener_manager.listener_modified").value()).isGreaterThanOrEqualTo(5);
      }
    } finally {
      cp.shutdownNow();
    }
  }
}

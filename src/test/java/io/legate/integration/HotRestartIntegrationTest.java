package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.network.Transport;
import io.legate.server.Options;
import io.legate.server.Server;
import io.legate.testing.TestUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hot restart under load: epoch 1 takes over epoch 0's listening sockets, epoch 0 drains and
 * stops, and clients on keep-alive connections see no failed request.
 */
class HotRestartIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: edge
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: UP_PORT } } }
      """;

  @TempDir Path dir;

  private Options options(String yaml, int epoch) {
    return new Options(null, yaml, "serve", 2, "warning", "", "", 10, epoch, 7, 900, dir.resolve("hr").toString());
  }

  @Test
  void aRestartUnderLoadLosesNoRequest() throws Exception {
    Assumptions.assumeTrue(io.netty.channel.epoll.Epoll.isAvailable(), "hot restart needs Linux epoll");
    try (TestUpstream up = new TestUpstream("up")) {
      String yaml = CONFIG.replace("UP_PORT", String.valueOf(up.port()));
      Server parent = Server.start(options(yaml, 0));
      int port = parent.listeners().get(0).boundAddress().getPort();
      int adminPort = parent.adminAddress().getPort();

      AtomicBoolean running = new AtomicBoolean(true);
      AtomicLong ok = new AtomicLong();
      ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
      List<Thread> clients = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        Thread t =
            new Thread(
                () -> {
                  HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                  HttpRequest req =
                      HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/x"))
                          .timeout(Duration.ofSeconds(10))
                          .build();
                  while (running.get()) {
                    try {
                      HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
                      if (r.statusCode() == 200) {
                        ok.incrementAndGet();
                      } else {
                        failures.add("status " + r.statusCode());
                      }
                    } catch (Exception e) {
                      failures.add(e.toString());
                    }
                  }
                });
        t.start();
        clients.add(t);
      }
      Thread.sleep(500);
      long beforeRestart = ok.get();
      Server child = Server.start(options(yaml, 1));
      try {
        assertThat(Transport.of(parent.workers()))
            .as("epoch 0 runs on the preferred transport")
            .isEqualTo(Transport.preferred());
        assertThat(Transport.of(child.workers())).as("a later epoch adopts sockets on epoll").isEqualTo(Transport.EPOLL);
        assertThat(child.listeners().get(0).boundAddress().getPort()).as("same listening socket").isEqualTo(port);
        assertThat(child.adminAddress().getPort()).as("admin socket handed over too").isEqualTo(adminPort);
        Integer exit = parent.terminated().get(15, TimeUnit.SECONDS);
        assertThat(exit).isZero();
        Thread.sleep(500);
        running.set(false);
        for (Thread t : clients) {
          t.join(15_000);
        }
        assertThat(failures).as("failed requests during the restart").isEmpty();
        assertThat(beforeRestart).isPositive();
        assertThat(child.stats().counter("http.edge.downstream_rq_total").value())
            .as("requests served by the new epoch")
            .isPositive();
        assertThat(parent.stats().counter("http.edge.downstream_cx_drain_close").value())
            .as("keep-alive connections told to close by the old epoch")
            .isPositive();
        System.out.printf("hot restart: %d requests before, %d in total, 0 failed%n", beforeRestart, ok.get());
      } finally {
        running.set(false);
        child.shutdownNow();
        parent.shutdownNow();
      }
    }
  }
}

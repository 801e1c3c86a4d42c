package io.legate.upstream.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** Active HTTP health checking through a whole server with real upstreams. */
class HealthCheckIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: backend, timeout: 2s }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: backend
          type: STATIC
          connect_timeout: 0.5s
          health_checks:
          - timeout: 0.5s
            interval: 0.1s
            no_traffic_interval: 0.1s
            unhealthy_threshold: 2
            healthy_threshold: 2
            ${EXTRA}
            http_health_check:
              path: /healthz
              request_headers_to_add:
              - header: { key: x-hc, value: "yes" }
          load_assignment:
            cluster_name: backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${A} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${B} } } }
      """;

  static Legate start(ControlledUpstream a, int portB, String extra) {
    return Legate.start(CONFIG, Map.of("A", a.port(), "B", portB, "EXTRA", extra));
  }

  @Test
  void stalledHostIsMarkedUnhealthyTakesNoTrafficAndComesBack() throws Exception {
    try (ControlledUpstream a = new ControlledUpstream("a");
        ControlledUpstream b = new ControlledUpstream("b");
        Legate legate = start(a, b.port(), "")) {
      // Warming waited for the first checks: both hosts are healthy before the first request.
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(2);
      assertThat(legate.stat("cluster.backend.membership_healthy")).isEqualTo(2);
      assertThat(a.healthCheckHeaders.peek()).isEqualTo("GET /healthz host=backend ua=Envoy/HC x-hc=yes");
      assertThat(served(legate, 10).keySet()).containsExactlyInAnyOrder("a", "b");

      b.stalled = true;
      long t0 = System.nanoTime();
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 1);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      // Two timed-out checks: unhealthy_threshold × (interval + timeout), plus scheduling slack.
      assertThat(ms).isLessThan(2500);
      assertThat(legate.stat("cluster.backend.health_check.network_failure")).isGreaterThanOrEqualTo(2);
      assertThat(legate.stat("cluster.backend.membership_healthy")).isEqualTo(1);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::/failed_active_hc\n")
          .contains("backend::127.0.0.1:" + a.port() + "::health_flags::healthy\n");

      int bTraffic = b.traffic.get();
      Map<String, Integer> served = served(legate, 20);
      assertThat(served).isEqualTo(Map.of("a", 20));
      assertThat(b.traffic.get()).isEqualTo(bTraffic);

      b.stalled = false;
      long t1 = System.nanoTime();
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 2);
      assertThat((System.nanoTime() - t1) / 1_000_000).isLessThan(1500);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::healthy\n");
      assertThat(served(legate, 10).keySet()).containsExactlyInAnyOrder("a", "b");
    }
  }

  @Test
  void unexpectedStatusFailsAtOnceAndRetriableStatusWaitsForTheThreshold() throws Exception {
    try (ControlledUpstream a = new ControlledUpstream("a");
        ControlledUpstream b = new ControlledUpstream("b");
        Legate legate =
            start(a, b.port(), "unhealthy_interval: 5s\n      unhealthy_edge_interval: 5s")) {
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(2);
      served(legate, 2); // traffic: the checker leaves no_traffic_interval
      b.healthStatus = 503;
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 1);
      // One failing check was enough (not retriable); unhealthy_interval spaces the next ones.
      assertThat(legate.stat("cluster.backend.health_check.failure")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.health_check.network_failure")).isEqualTo(0);
      Thread.sleep(300);
      assertThat(legate.stat("cluster.backend.health_check.failure")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(1);
    }
  }

  @Test
  void hostThatNeverPassesStartsUnhealthyAndTheEventLogSaysWhy() throws Exception {
    Path log = Files.createTempFile("hc-events", ".log");
    try (RefusedPort refused = new RefusedPort();
        ControlledUpstream a = new ControlledUpstream("a");
        Legate legate =
            start(a, refused.port(), "event_log_path: " + log + "\n      always_log_health_check_failures: false")) {
      int dead = refused.port();
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(1);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + dead + "::health_flags::/failed_active_hc\n");
      assertThat(served(legate, 6)).isEqualTo(Map.of("a", 6));
      awaitTrue(() -> lines(log).size() >= 2);
      List<String> lines = lines(log);
      String ts = "\"timestamp\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z\"";
      String hostA =
          "\"host\":{\"socket_address\":{\"protocol\":\"TCP\",\"address\":\"127.0.0.1\",\"port_value\":"
              + a.port() + ",\"resolver_name\":\"\",\"ipv4_compat\":false,"
              + "\"network_namespace_filepath\":\"\"}}";
      String hostDead = hostA.replace(Integer.toString(a.port()), Integer.toString(dead));
      assertThat(lines)
          .anySatisfy(l -> assertThat(l).matches(java.util.regex.Pattern.quote(
              "{\"health_checker_type\":\"HTTP\"," + hostA
                  + ",\"cluster_name\":\"backend\",\"add_healthy_event\":{\"first_check\":true},")
              + ts + "}"))
          .anySatisfy(l -> assertThat(l).matches(java.util.regex.Pattern.quote(
              "{\"health_checker_type\":\"HTTP\"," + hostDead
                  + ",\"cluster_name\":\"backend\",")
              + ts + java.util.regex.Pattern.quote(
                  ",\"health_check_failure_event\":{\"failure_type\":\"NETWORK\",\"first_check\":true}}")));
      // Later failures of the dead host are not logged (always_log_health_check_failures: false).
      Thread.sleep(300);
      assertThat(lines(log)).hasSize(2);
    } finally {
      Files.deleteIfExists(log);
    }
  }

  static List<String> lines(Path p) {
    try {
      return Files.readAllLines(p);
    } catch (java.io.IOException e) {
      throw new RuntimeException(e);
    }
  }

  /** Sends {@code n} requests and counts the responses by upstream name (all must be 200). */
  static Map<String, Integer> served(Legate legate, int n) {
    Map<String, Integer> out = new HashMap<>();
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = legate.get("front", "/work/" + i);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      out.merge(r.body(), 1, Integer::sum);
    }
    return out;
  }

  static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + 8_000_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 8 s");
      }
      Thread.sleep(10);
    }
  }
}

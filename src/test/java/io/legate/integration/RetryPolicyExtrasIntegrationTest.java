package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The retry policy's {@code per_try_idle_timeout}, {@code rate_limited_retry_back_off} and {@code
 * retry_priority} against real upstreams that stall, trickle, answer 503 with Retry-After, or sit
 * in a lower priority level.
 */
class RetryPolicyExtrasIntegrationTest {
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
                  name: local
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    response_headers_to_add:
                    - header: { key: x-flags, value: "%RESPONSE_FLAGS%" }
                    routes:
                    - match: { prefix: "/idle-retry" }
                      route:
                        cluster: stall_good
                        retry_policy:
                          retry_on: reset
                          num_retries: 2
                          per_try_idle_timeout: 0.3s
                          retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }]
                          host_selection_retry_max_attempts: 5
                    - match: { prefix: "/idle-only" }
                      route:
                        cluster: stall_only
                        retry_policy: { retry_on: reset, num_retries: 0, per_try_idle_timeout: 0.3s }
                    - match: { prefix: "/trickle" }
                      route:
                        cluster: trickle
                        timeout: 20s
                        retry_policy: { retry_on: reset, num_retries: 0, per_try_idle_timeout: 0.5s }
                    - match: { prefix: "/rl" }
                      route:
                        cluster: ratelimited
                        retry_policy:
                          retry_on: 5xx
                          num_retries: 1
                          rate_limited_retry_back_off:
                            reset_headers:
                            - { name: Retry-After }
                            - { name: X-RateLimit-Reset, format: UNIX_TIMESTAMP }
                            max_interval: 5s
                    - match: { prefix: "/prio" }
                      route:
                        cluster: prio
                        retry_policy:
                          retry_on: 5xx
                          num_retries: 1
                          retry_priority:
                            name: envoy.retry_priorities.previous_priorities
                            typed_config:
                              "@type": type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig
                              update_frequency: 1
                    - match: { prefix: "/noprio" }
                      route: { cluster: prio, retry_policy: { retry_on: 5xx, num_retries: 1 } }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: stall_good
          connect_timeout: 1s
          load_assignment:
            cluster_name: stall_good
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${STALL} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: stall_only
          connect_timeout: 1s
          load_assignment:
            cluster_name: stall_only
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${STALL} } } }
        - name: trickle
          connect_timeout: 1s
          load_assignment:
            cluster_name: trickle
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${TRICKLE} } } }
        - name: ratelimited
          connect_timeout: 1s
          load_assignment:
            cluster_name: ratelimited
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${RATELIMITED} } } }
        - name: prio
          connect_timeout: 1s
          load_assignment:
            cluster_name: prio
            endpoints:
            - priority: 0
              lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${BAD} } } }
            - priority: 1
              lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
      """;

  /**
   * An upstream that streams its answer: {@code /trickle/...} sends 40 chunks 50 ms apart, {@code
   * /trickle-stall/...} one chunk and then nothing for 5 s.
   */
  static final class Trickle implements AutoCloseable {
    final HttpServer server;
    final ExecutorService executor = Executors.newFixedThreadPool(4);

    Trickle() throws IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.setExecutor(executor);
      server.createContext("/", exchange -> {
        exchange.getRequestBody().readAllBytes();
        boolean stall = exchange.getRequestURI().getPath().startsWith("/trickle-stall");
        try {
          exchange.sendResponseHeaders(200, 0);
          try (OutputStream out = exchange.getResponseBody()) {
            for (int i = 0; i < (stall ? 1 : 40); i++) {
              out.write(("chunk" + i + "\n").getBytes(StandardCharsets.UTF_8));
              out.flush();
              Thread.sleep(stall ? 5000 : 50);
            }
          }
        } catch (IOException | InterruptedException e) {
          // the proxy gave up on this attempt
        }
      });
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
      executor.shutdownNow();
    }
  }

  /**
   * An upstream that answers the first request for a path 503 with a reset header chosen by the
   * path, and 200 afterwards, remembering when each request arrived.
   */
  static final class RateLimited implements AutoCloseable {
    final HttpServer server;
    final Map<String, List<Long>> arrivals = new ConcurrentHashMap<>();

    RateLimited() throws IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.setExecutor(Executors.newFixedThreadPool(2));
      server.createContext("/", exchange -> {
        exchange.getRequestBody().readAllBytes();
        String path = exchange.getRequestURI().getPath();
        List<Long> seen = arrivals.computeIfAbsent(path, k -> new CopyOnWriteArrayList<>());
        seen.add(System.nanoTime());
        int status = 200;
        if (seen.size() == 1) {
          status = 503;
          if (path.startsWith("/rl-seconds")) {
            exchange.getResponseHeaders().add("Retry-After", "1");
          } else if (path.startsWith("/rl-unix")) {
            exchange.getResponseHeaders().add("X-RateLimit-Reset",
                Long.toString(System.currentTimeMillis() / 1000 + 2));
          } else if (path.startsWith("/rl-over")) {
            exchange.getResponseHeaders().add("Retry-After", "100");
          }
        }
        byte[] body = ("status " + status).getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      });
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
      ((ExecutorService) server.getExecutor()).shutdownNow();
    }
  }

  static TestUpstream good;
  static RetryIntegrationTest.Scripted stall;
  static RetryIntegrationTest.Scripted bad;
  static Trickle trickle;
  static RateLimited rateLimited;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    good = new TestUpstream("good");
    stall = new RetryIntegrationTest.Scripted(200, 5000, Map.of());
    bad = new RetryIntegrationTest.Scripted(503, 0, Map.of());
    trickle = new Trickle();
    rateLimited = new RateLimited();
    legate = Legate.start(CONFIG, Map.of(
        "GOOD", good.port(),
        "STALL", stall.port(),
        "BAD", bad.port(),
        "TRICKLE", trickle.port(),
        "RATELIMITED", rateLimited.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    for (AutoCloseable c : new AutoCloseable[] {good, stall, bad, trickle, rateLimited}) {
      try {
        c.close();
      } catch (Exception ignored) {
        // already closed
      }
    }
  }

  private static long stat(String name) {
    return Math.max(0, legate.stat(name));
  }

  @Test
  void anIdleAttemptIsResetAndRetriedOnAnotherHost() {
    long idle = stat("cluster.stall_good.upstream_rq_per_try_idle_timeout");
    int stalled = stall.hits.get();
    for (int i = 0; i < 6; i++) {
      HttpResponse<String> r = legate.get("front", "/idle-retry/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-upstream")).hasValue("good");
    }
    int hits = stall.hits.get() - stalled;
    assertThat(hits).isPositive();
    assertThat(stat("cluster.stall_good.upstream_rq_per_try_idle_timeout") - idle).isEqualTo(hits);
    assertThat(stat("cluster.stall_good.upstream_rq_retry_success")).isEqualTo(hits);
  }

  @Test
  void anIdleAttemptWithoutRetriesLeftIs504UpstreamTimeout() {
    long idle = stat("cluster.stall_only.upstream_rq_per_try_idle_timeout");
    HttpResponse<String> r = legate.get("front", "/idle-only/x");
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(r.body()).isEqualTo("upstream request timeout");
    assertThat(r.headers().firstValue("x-flags")).hasValue("UT,URX");
    assertThat(stat("cluster.stall_only.upstream_rq_per_try_idle_timeout") - idle).isEqualTo(1);
  }

  @Test
  void everyReceivedChunkRestartsTheIdleTimer() {
    // 40 chunks 50 ms apart take 2 s, four times the idle timeout: only the resets keep it alive.
    long idle = stat("cluster.trickle.upstream_rq_per_try_idle_timeout");
    HttpResponse<String> r = legate.get("front", "/trickle/x");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("chunk0\n").endsWith("chunk39\n");
    assertThat(stat("cluster.trickle.upstream_rq_per_try_idle_timeout") - idle).isZero();
  }

  @Test
  void aResponseThatStopsMidBodyIsResetAfterTheIdleTimeout() {
    long idle = stat("cluster.trickle.upstream_rq_per_try_idle_timeout");
    long resets = stat("http.ingress.rq_reset_after_downstream_response_started");
    HttpRequest req = HttpRequest.newBuilder(legate.uri("front", "/trickle-stall/x"))
        .timeout(Duration.ofSeconds(20)).GET().build();
    assertThatThrownBy(() -> legate.client().send(req, HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(IOException.class);
    assertThat(stat("cluster.trickle.upstream_rq_per_try_idle_timeout") - idle).isEqualTo(1);
    assertThat(stat("http.ingress.rq_reset_after_downstream_response_started") - resets).isEqualTo(1);
  }

  private static long gapMillis(String path) {
    List<Long> seen = rateLimited.arrivals.get(path);
    assertThat(seen).hasSize(2);
    return (seen.get(1) - seen.get(0)) / 1_000_000;
  }

  @Test
  void retryAfterSecondsSetsTheBackOff() {
    long limited = stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited");
    HttpResponse<String> r = legate.get("front", "/rl-seconds/a");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(gapMillis("/rl-seconds/a")).isGreaterThanOrEqualTo(1000);
    assertThat(stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited") - limited).isEqualTo(1);
  }

  @Test
  void aUnixTimestampResetHeaderSetsTheBackOff() {
    long limited = stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited");
    HttpResponse<String> r = legate.get("front", "/rl-unix/a");
    assertThat(r.statusCode()).isEqualTo(200);
    // The reset time is 2 s ahead in whole seconds: at least 1 s after the 503.
    assertThat(gapMillis("/rl-unix/a")).isGreaterThanOrEqualTo(1000);
    assertThat(stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited") - limited).isEqualTo(1);
  }

  @Test
  void aResetHeaderOverMaxIntervalFallsBackToExponentialBackOff() {
    long limited = stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited");
    long exponential = stat("cluster.ratelimited.upstream_rq_retry_backoff_exponential");
    for (String path : new String[] {"/rl-over/a", "/rl-none/a"}) {
      HttpResponse<String> r = legate.get("front", path);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(rateLimited.arrivals.get(path)).hasSize(2);
    }
    assertThat(stat("cluster.ratelimited.upstream_rq_retry_backoff_exponential") - exponential).isEqualTo(2);
    assertThat(stat("cluster.ratelimited.upstream_rq_retry_backoff_ratelimited") - limited).isZero();
  }

  @Test
  void previousPrioritiesSendsTheRetryToTheNextLevel() {
    int badHits = bad.hits.get();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = legate.get("front", "/prio/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-upstream")).hasValue("good");
    }
    assertThat(bad.hits.get() - badHits).isEqualTo(5);
    // Without retry_priority the healthy priority 0 keeps all the load, retries included.
    for (int i = 0; i < 3; i++) {
      assertThat(legate.get("front", "/noprio/" + i).statusCode()).isEqualTo(503);
    }
    assertThat(bad.hits.get() - badHits).isEqualTo(11);
  }
}

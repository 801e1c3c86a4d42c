package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Retries, per-try timeouts and circuit breakers against real upstreams. */
class RetryIntegrationTest {
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
                use_remote_address: true
                route_config:
                  name: local
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    include_request_attempt_count: true
                    include_attempt_count_in_response: true
                    routes:
                    - match: { prefix: "/kill" }
                      route:
                        cluster: killable
                        retry_policy:
                          retry_on: connect-failure,reset
                          num_retries: 3
                          # A connection the dying host accepted but never serves is given up on.
                          per_try_timeout: 1s
                          retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }]
                          host_selection_retry_max_attempts: 3
                    - match: { prefix: "/5xx" }
                      route:
                        cluster: bad_good
                        retry_policy:
                          retry_on: 5xx
                          retry_host_predicate:
                          - name: envoy.retry_host_predicates.previous_hosts
                            typed_config:
                              "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                          host_selection_retry_max_attempts: 3
                    - match: { prefix: "/teapot-no" }
                      route: { cluster: teapot_good, retry_policy: { retry_on: 5xx } }
                    - match: { prefix: "/teapot" }
                      route:
                        cluster: teapot_good
                        retry_policy: { retry_on: retriable-status-codes, retriable_status_codes: [418] }
                    - match: { prefix: "/pertry-only" }
                      route:
                        cluster: slow_only
                        retry_policy: { retry_on: 5xx, num_retries: 1, per_try_timeout: 0.2s }
                    - match: { prefix: "/pertry" }
                      route:
                        cluster: slow_good
                        retry_policy:
                          retry_on: reset
                          per_try_timeout: 0.2s
                          retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }]
                          host_selection_retry_max_attempts: 3
                    - match: { prefix: "/exhausted" }
                      route: { cluster: refused, retry_policy: { retry_on: connect-failure, num_retries: 2 } }
                    - match: { prefix: "/overflow" }
                      route: { cluster: bad_only, retry_policy: { retry_on: 5xx, num_retries: 3 } }
                    - match: { prefix: "/cb/" }
                      route: { cluster: cb_rq, prefix_rewrite: "/" }
                    - match: { prefix: "/h2cb/" }
                      route: { cluster: cb_h2, prefix_rewrite: "/" }
                    - match: { prefix: "/cx/" }
                      route: { cluster: cb_cx, prefix_rewrite: "/" }
                    - match: { prefix: "/grpc" }
                      route: { cluster: grpc_good, retry_policy: { retry_on: unavailable } }
                    - match: { prefix: "/hdr" }
                      route: { cluster: bad_good }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: killable
          connect_timeout: 1s
          # Envoy's default max_retries (3) would overflow with four clients retrying at once.
          circuit_breakers: { thresholds: [{ max_retries: 100 }] }
          load_assignment:
            cluster_name: killable
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${VICTIM} } } }
        - name: bad_good
          connect_timeout: 1s
          load_assignment:
            cluster_name: bad_good
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${BAD} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: teapot_good
          connect_timeout: 1s
          load_assignment:
            cluster_name: teapot_good
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${TEAPOT} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: slow_good
          connect_timeout: 1s
          load_assignment:
            cluster_name: slow_good
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${SLOW} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: slow_only
          connect_timeout: 1s
          load_assignment:
            cluster_name: slow_only
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${SLOW} } } }
        - name: refused
          connect_timeout: 1s
          load_assignment:
            cluster_name: refused
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${CLOSED} } } }
        - name: bad_only
          connect_timeout: 1s
          circuit_breakers: { thresholds: [{ max_retries: 0 }] }
          load_assignment:
            cluster_name: bad_only
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${BAD} } } }
        - name: cb_rq
          connect_timeout: 1s
          circuit_breakers: { thresholds: [{ max_requests: 3, track_remaining: true }, { priority: HIGH, max_retries: 7 }] }
          load_assignment:
            cluster_name: cb_rq
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: cb_cx
          connect_timeout: 1s
          circuit_breakers: { thresholds: [{ max_connections: 1 }] }
          load_assignment:
            cluster_name: cb_cx
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD2} } } }
        - name: cb_h2
          connect_timeout: 1s
          circuit_breakers: { thresholds: [{ max_requests: 2, max_connections: 1 }] }
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: cb_h2
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
        - name: grpc_good
          connect_timeout: 1s
          load_assignment:
            cluster_name: grpc_good
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UNAVAILABLE} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GOOD} } } }
      """;

  /** A small upstream answering every request the same way, counting what it sees. */
  static final class Scripted implements AutoCloseable {
    final HttpServer server;
    final ExecutorService executor = Executors.newFixedThreadPool(8);
    final AtomicInteger hits = new AtomicInteger();

    Scripted(int status, long delayMs, Map<String, String> headers) throws IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.setExecutor(executor);
      server.createContext(
          "/",
          exchange -> {
            hits.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            if (delayMs > 0) {
              try {
                Thread.sleep(delayMs);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            headers.forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
            byte[] body = ("scripted " + status).getBytes(StandardCharsets.UTF_8);
            try {
              exchange.sendResponseHeaders(status, body.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
              }
            } catch (IOException e) {
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

  static TestUpstream good;
  static TestUpstream good2;
  static TestUpstream victim;
  static Scripted bad;
  static Scripted teapot;
  static Scripted slow;
  static Scripted unavailable;
  static RefusedPort closed;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    good = new TestUpstream("good");
    good2 = new TestUpstream("good2");
    victim = new TestUpstream("victim");
    bad = new Scripted(503, 0, Map.of());
    teapot = new Scripted(418, 0, Map.of());
    slow = new Scripted(200, 3000, Map.of());
    unavailable = new Scripted(200, 0, Map.of("content-type", "application/grpc", "grpc-status", "14"));
    closed = new RefusedPort();
    legate =
        Legate.start(
            CONFIG,
            Map.of(
                "GOOD", good.port(),
                "GOOD2", good2.port(),
                "VICTIM", victim.port(),
                "BAD", bad.port(),
                "TEAPOT", teapot.port(),
                "SLOW", slow.port(),
                "UNAVAILABLE", unavailable.port(),
                "CLOSED", closed.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    for (AutoCloseable c : new AutoCloseable[] {good, good2, victim, bad, teapot, slow, unavailable, closed}) {
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

  private static List<HttpResponse<String>> burst(int n, String path) {
    List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      HttpRequest r = HttpRequest.newBuilder(legate.uri("front", path)).timeout(Duration.ofSeconds(20)).GET().build();
      futures.add(legate.client().sendAsync(r, HttpResponse.BodyHandlers.ofString()));
    }
    List<HttpResponse<String>> out = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> f : futures) {
      out.add(f.orTimeout(30, TimeUnit.SECONDS).join());
    }
    return out;
  }

  @Test
  void aHostKilledMidLoadCostsNoClientFailure() throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(4);
    AtomicInteger sent = new AtomicInteger();
    List<CompletableFuture<String>> results = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      results.add(
          CompletableFuture.supplyAsync(
              () -> {
                if (sent.incrementAndGet() == 60) {
                  victim.close();
                }
                HttpResponse<String> r = legate.get("front", "/kill/x");
                return r.statusCode() == 200 ? "200" : r.statusCode() + " " + r.body();
              },
              clients));
    }
    List<String> codes = new ArrayList<>();
    for (CompletableFuture<String> f : results) {
      codes.add(f.get(60, TimeUnit.SECONDS));
    }
    clients.shutdown();
    assertThat(codes).hasSize(200).containsOnly("200");
    assertThat(stat("cluster.killable.upstream_rq_retry")).isPositive();
    assertThat(stat("cluster.killable.upstream_rq_retry_limit_exceeded")).isZero();
    // Only the killed host ever failed an attempt.
    String clusters = legate.admin("/clusters").body();
    assertThat(clusters).contains("killable::127.0.0.1:" + good.port() + "::rq_timeout::0\n");
    assertThat(clusters).contains("killable::127.0.0.1:" + good.port() + "::rq_error::0\n");
  }

  @Test
  void fiveXxIsRetriedOnTheOtherHost() {
    long retries = stat("cluster.bad_good.upstream_rq_retry");
    long success = stat("cluster.bad_good.upstream_rq_retry_success");
    int badHits = bad.hits.get();
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> r = legate.get("front", "/5xx/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-upstream")).hasValue("good");
      String attempts = r.headers().firstValue("x-envoy-attempt-count").orElseThrow();
      assertThat(r.body()).contains("x-envoy-attempt-count: " + attempts + "\n");
    }
    int retried = bad.hits.get() - badHits;
    assertThat(retried).isPositive();
    assertThat(stat("cluster.bad_good.upstream_rq_retry") - retries).isEqualTo(retried);
    assertThat(stat("cluster.bad_good.upstream_rq_retry_success") - success).isEqualTo(retried);
  }

  @Test
  void aRequestBodyIsSentAgainOnRetry() {
    String body = "x".repeat(20_000);
    int badHits = bad.hits.get();
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> r =
          legate.send(
              HttpRequest.newBuilder(legate.uri("front", "/5xx/post"))
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).endsWith("\n\n" + body);
    }
    assertThat(bad.hits.get() - badHits).isPositive();
  }

  @Test
  void retriableStatusCodes() {
    int teapotHits = teapot.hits.get();
    for (int i = 0; i < 6; i++) {
      assertThat(legate.get("front", "/teapot/" + i).statusCode()).isEqualTo(200);
    }
    assertThat(teapot.hits.get() - teapotHits).isPositive();
    // 418 is not a 5xx: without retriable-status-codes it reaches the client.
    List<Integer> codes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      codes.add(legate.get("front", "/teapot-no/" + i).statusCode());
    }
    assertThat(codes).contains(418, 200);
  }

  @Test
  void retryOnFromARequestHeader() {
    int badHits = bad.hits.get();
    List<Integer> without = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      without.add(legate.get("front", "/hdr/" + i).statusCode());
    }
    assertThat(without).contains(503, 200);
    for (int i = 0; i < 6; i++) {
      HttpResponse<String> r = legate.get("front", "/hdr/" + i, "x-envoy-retry-on", "5xx", "x-envoy-max-retries", "2");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).doesNotContain("x-envoy-retry-on").doesNotContain("x-envoy-max-retries");
    }
    assertThat(bad.hits.get() - badHits).isGreaterThan(2);
  }

  @Test
  void grpcUnavailableIsRetried() {
    int hits = unavailable.hits.get();
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> r = legate.get("front", "/grpc/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("grpc-status")).isEmpty();
    }
    assertThat(unavailable.hits.get() - hits).isPositive();
  }

  @Test
  void retriesExhaustedGive503WithEnvoysWording() {
    long retries = stat("cluster.refused.upstream_rq_retry");
    long exceeded = stat("cluster.refused.upstream_rq_retry_limit_exceeded");
    HttpResponse<String> r = legate.get("front", "/exhausted");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .startsWith(
            "upstream connect error or disconnect/reset before headers. retried and the latest reset reason:"
                + " connection failure");
    assertThat(stat("cluster.refused.upstream_rq_retry") - retries).isEqualTo(2);
    assertThat(stat("cluster.refused.upstream_rq_retry_limit_exceeded") - exceeded).isEqualTo(1);
    assertThat(stat("cluster.refused.upstream_rq_retry_backoff_exponential")).isGreaterThanOrEqualTo(2);
  }

  @Test
  void perTryTimeoutThenSuccess() {
    long perTry = stat("cluster.slow_good.upstream_rq_per_try_timeout");
    int slowHits = slow.hits.get();
    for (int i = 0; i < 4; i++) {
      long start = System.nanoTime();
      HttpResponse<String> r = legate.get("front", "/pertry/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-upstream")).hasValue("good");
      assertThat(r.body()).contains("x-envoy-expected-rq-timeout-ms: 200\n");
      assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(2000);
    }
    int timedOut = slow.hits.get() - slowHits;
    assertThat(timedOut).isPositive();
    assertThat(stat("cluster.slow_good.upstream_rq_per_try_timeout") - perTry).isEqualTo(timedOut);
  }

  @Test
  void perTryTimeoutOnEveryAttemptGives504() {
    long perTry = stat("cluster.slow_only.upstream_rq_per_try_timeout");
    HttpResponse<String> r = legate.get("front", "/pertry-only");
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(r.body()).isEqualTo("upstream request timeout");
    assertThat(stat("cluster.slow_only.upstream_rq_per_try_timeout") - perTry).isEqualTo(2);
    assertThat(stat("cluster.slow_only.upstream_rq_retry_limit_exceeded")).isEqualTo(1);
  }

  @Test
  void retryOverflowWhenMaxRetriesIsReached() {
    long overflow = stat("cluster.bad_only.upstream_rq_retry_overflow");
    HttpResponse<String> r = legate.get("front", "/overflow");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("scripted 503");
    assertThat(stat("cluster.bad_only.upstream_rq_retry_overflow") - overflow).isEqualTo(1);
    assertThat(stat("cluster.bad_only.upstream_rq_retry")).isZero();
  }

  @Test
  void maxRequestsOverflowsExactlyTheExcessOfABurst() {
    long overflow = stat("cluster.cb_rq.upstream_rq_pending_overflow");
    List<HttpResponse<String>> responses = burst(8, "/cb/delay/1000");
    List<HttpResponse<String>> rejected =
        responses.stream().filter(r -> r.statusCode() == 503).toList();
    assertThat(responses.stream().filter(r -> r.statusCode() == 200).count()).isEqualTo(3);
    assertThat(rejected).hasSize(5);
    for (HttpResponse<String> r : rejected) {
      assertThat(r.headers().firstValue("x-envoy-overloaded")).hasValue("true");
      assertThat(r.body()).isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: overflow");
    }
    assertThat(stat("cluster.cb_rq.upstream_rq_pending_overflow") - overflow).isEqualTo(5);
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.rq_open")).isZero();
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_rq")).isEqualTo(3);
  }

  @Test
  void maxRequestsAppliesToHttp2Streams() {
    long overflow = stat("cluster.cb_h2.upstream_rq_pending_overflow");
    List<HttpResponse<String>> responses = burst(5, "/h2cb/delay/1000");
    assertThat(responses.stream().filter(r -> r.statusCode() == 200).count()).isEqualTo(2);
    assertThat(responses.stream().filter(r -> r.statusCode() == 503))
        .hasSize(3)
        .allSatisfy(r -> assertThat(r.headers().firstValue("x-envoy-overloaded")).hasValue("true"));
    assertThat(stat("cluster.cb_h2.upstream_rq_pending_overflow") - overflow).isEqualTo(3);
    assertThat(stat("cluster.cb_h2.circuit_breakers.default.rq_open")).isZero();
    // Streams share the connections: at most one per worker.
    assertThat(stat("cluster.cb_h2.upstream_cx_http2_total")).isBetween(1L, 2L);
    assertThat(legate.get("front", "/h2cb/echo").body()).startsWith("GET /echo HTTP/2");
  }

  @Test
  void remainingGaugesTrackRequestsInFlight() throws Exception {
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_rq")).isEqualTo(3);
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_pending")).isEqualTo(1024);
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_retries")).isEqualTo(3);
    CompletableFuture<HttpResponse<String>> slowOne =
        legate.client().sendAsync(
            HttpRequest.newBuilder(legate.uri("front", "/cb/delay/1500")).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    long deadline = System.currentTimeMillis() + 1000;
    while (stat("cluster.cb_rq.circuit_breakers.default.remaining_rq") != 2 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_rq")).isEqualTo(2);
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.rq_open")).isZero();
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_cx"))
        .isEqualTo(1024 - stat("cluster.cb_rq.upstream_cx_active"));
    assertThat(slowOne.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    // The request slot is released when the stream ends on the worker, which may be just after the
    // client has the response: wait for it rather than race it.
    deadline = System.currentTimeMillis() + 5000;
    while (stat("cluster.cb_rq.circuit_breakers.default.remaining_rq") != 3 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertThat(stat("cluster.cb_rq.circuit_breakers.default.remaining_rq")).isEqualTo(3);
  }

  @Test
  void maxConnectionsQueuesRequestsThatStillSucceed() {
    long overflow = stat("cluster.cb_cx.upstream_cx_overflow");
    List<HttpResponse<String>> responses = burst(6, "/cx/delay/200");
    assertThat(responses).allSatisfy(r -> assertThat(r.statusCode()).isEqualTo(200));
    assertThat(stat("cluster.cb_cx.upstream_cx_overflow") - overflow).isPositive();
    // One connection per worker at most (Envoy's pools are per worker too; the first one always opens).
    assertThat(good2.connections()).isBetween(1, 2);
  }

  @Test
  void clustersShowTheThresholds() {
    String body = legate.admin("/clusters").body();
    assertThat(body)
        .contains("cb_rq::default_priority::max_connections::1024\n")
        .contains("cb_rq::default_priority::max_pending_requests::1024\n")
        .contains("cb_rq::default_priority::max_requests::3\n")
        .contains("cb_rq::default_priority::max_retries::3\n")
        .contains("cb_rq::high_priority::max_retries::7\n")
        .contains("cb_cx::default_priority::max_connections::1\n");
  }
}

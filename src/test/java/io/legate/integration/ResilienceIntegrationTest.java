package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Hedging on per-try timeouts, gRPC timeout headers and max_stream_duration, hash cookie generation. */
class ResilienceIntegrationTest {
  static final String HEAD =
      """
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: front
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
      """;
  static final String ROUTER =
      """
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
      """;

  static String cluster(String name, String lb, int... ports) {
    StringBuilder sb = new StringBuilder();
    sb.append("  - name: ").append(name).append("\n    type: STATIC\n    lb_policy: ").append(lb)
        .append("\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: ").append(name)
        .append("\n      endpoints:\n      - lb_endpoints:\n");
    for (int p : ports) {
      sb.append("        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ")
          .append(p).append(" } } }\n");
    }
    return sb.toString();
  }

  /**
   * A raw HTTP/1.1 server answering {@code name} after {@code delayMs} (never, when negative);
   * counts connections closed by the peer.
   */
  static final class SlowServer implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger closedByPeer = new AtomicInteger();
    final List<Socket> open = new CopyOnWriteArrayList<>();

    SlowServer(String name, long delayMs) throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(() -> {
        while (!socket.isClosed()) {
          try {
            Socket s = socket.accept();
            open.add(s);
            new Thread(() -> serve(s, name, delayMs)).start();
          } catch (IOException e) {
            return;
          }
        }
      });
      t.setDaemon(true);
      t.start();
    }

    private void serve(Socket s, String name, long delayMs) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          // read one request's headers (no bodies in these tests)
          int state = 0;
          int c;
          while (state < 4 && (c = in.read()) >= 0) {
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
          }
          if (state < 4) {
            closedByPeer.incrementAndGet();
            return;
          }
          if (delayMs < 0) {
            if (in.read() < 0) {
              closedByPeer.incrementAndGet();
            }
            return;
          }
          Thread.sleep(delayMs);
          byte[] body = name.getBytes(StandardCharsets.US_ASCII);
          out.write(("HTTP/1.1 200 OK\r\ncontent-length: " + body.length + "\r\nx-upstream: " + name
              + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(body);
          out.flush();
        }
      } catch (IOException | InterruptedException e) {
        // connection gone
      }
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
      for (Socket s : open) {
        s.close();
      }
    }
  }

  Legate legate;
  TestUpstream fast;
  TestUpstream b;
  TestUpstream c;
  SlowServer slow;
  SlowServer stall;

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable x : new AutoCloseable[] {legate, fast, b, c, slow, stall}) {
      if (x != null) {
        x.close();
      }
    }
  }

  static final String HEDGE_ROUTE =
      """
                    - match: { prefix: / }
                      route:
                        cluster: pair
                        timeout: 3s
                        hedge_policy: { hedge_on_per_try_timeout: true }
                        retry_policy:
                          retry_on: 5xx
                          num_retries: 1
                          per_try_timeout: 0.3s
                          retry_host_predicate: [ { name: envoy.retry_host_predicates.previous_hosts } ]
      """;

  @Test
  void aHedgedRequestGetsTheFastAnswerWithinAboutOnePerTryTimeout() throws Exception {
    fast = new TestUpstream("fast");
    stall = new SlowServer("stall", -1);
    legate = Legate.start(HEAD + HEDGE_ROUTE + ROUTER + cluster("pair", "ROUND_ROBIN", stall.port(), fast.port()));
    boolean sawHedge = false;
    for (int i = 0; i < 4; i++) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = legate.get("front", "/hello");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-upstream")).hasValue("fast");
      assertThat(ms).isLessThan(1000);
      sawHedge |= ms >= 280;
    }
    assertThat(sawHedge).isTrue();
    assertThat(legate.server().stats().counter("cluster.pair.upstream_rq_per_try_timeout").value()).isGreaterThan(0);
    // The stalled attempts lost and were reset.
    Thread.sleep(200);
    assertThat(stall.closedByPeer.get()).isGreaterThan(0);
  }

  @Test
  void theFirstAttemptIsNotCancelledByAHedge() throws Exception {
    // The slow host answers after 0.6 s, past the 0.3 s per-try timeout; the hedge goes to a host
    // that never answers. A plain retry would reset the slow attempt and time out (504).
    slow = new SlowServer("slow", 600);
    stall = new SlowServer("stall", -1);
    legate = Legate.start(HEAD + HEDGE_ROUTE + ROUTER + cluster("pair", "ROUND_ROBIN", slow.port(), stall.port()));
    for (int i = 0; i < 4; i++) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = legate.get("front", "/hello");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("slow");
      assertThat(ms).isLessThan(2000);
    }
  }

  static final String DURATION_ROUTES =
      """
                    - match: { prefix: /, headers: [ { name: x-route, string_match: { exact: grpc } } ] }
                      route:
                        cluster: up
                        timeout: 10s
                        max_stream_duration: { grpc_timeout_header_max: 5s, grpc_timeout_header_offset: 0.1s }
                    - match: { prefix: /, headers: [ { name: x-route, string_match: { exact: capped } } ] }
                      route:
                        cluster: up
                        timeout: 10s
                        max_stream_duration: { grpc_timeout_header_max: 0.4s }
                    - match: { prefix: / }
                      route:
                        cluster: up
                        timeout: 10s
                        max_stream_duration: { max_stream_duration: 0.5s }
      """;

  @Test
  void grpcTimeoutHeaderShortensTheRouteTimeout() throws Exception {
    fast = new TestUpstream("up");
    legate = Legate.start(HEAD + DURATION_ROUTES + ROUTER + cluster("up", "ROUND_ROBIN", fast.port()));
    // 600m less the 100 ms offset: the stream ends after ~500 ms with DEADLINE_EXCEEDED.
    long t0 = System.nanoTime();
    HttpResponse<String> r = legate.get("front", "/delay/3000", "content-type", "application/grpc",
        "grpc-timeout", "600m", "x-route", "grpc");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.headers().firstValue("grpc-status")).hasValue("4");
    assertThat(ms).isBetween(450L, 1500L);

    // Capped by grpc_timeout_header_max.
    t0 = System.nanoTime();
    r = legate.get("front", "/delay/3000", "content-type", "application/grpc", "grpc-timeout", "20S",
        "x-route", "capped");
    ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.headers().firstValue("grpc-status")).hasValue("4");
    assertThat(ms).isBetween(350L, 1500L);

    // Without the header the route timeout (10 s) holds: a 0.2 s answer passes.
    r = legate.get("front", "/delay/200", "content-type", "application/grpc", "x-route", "grpc");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("grpc-status")).isEmpty();
    assertThat(legate.server().stats().counter("http.front.downstream_rq_max_duration_reached").value()).isEqualTo(2);
  }

  @Test
  void routeMaxStreamDurationAnswers504() throws Exception {
    fast = new TestUpstream("up");
    legate = Legate.start(HEAD + DURATION_ROUTES + ROUTER + cluster("up", "ROUND_ROBIN", fast.port()));
    long t0 = System.nanoTime();
    HttpResponse<String> r = legate.get("front", "/delay/3000");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(r.body()).isEqualTo("downstream duration timeout");
    assertThat(ms).isBetween(450L, 1500L);
    assertThat(legate.get("front", "/delay/100").statusCode()).isEqualTo(200);
  }

  @Test
  void aGeneratedHashCookieIsSetAndSticks() throws Exception {
    fast = new TestUpstream("a");
    b = new TestUpstream("b");
    c = new TestUpstream("c");
    String route =
        """
                    - match: { prefix: / }
                      route:
                        cluster: ring
                        hash_policy: [ { cookie: { name: sticky, ttl: 3600s, path: /app } } ]
      """;
    legate = Legate.start(HEAD + route + ROUTER + cluster("ring", "RING_HASH", fast.port(), b.port(), c.port()));
    HttpResponse<String> first = legate.get("front", "/app");
    assertThat(first.statusCode()).isEqualTo(200);
    String setCookie = first.headers().firstValue("set-cookie").orElseThrow();
    assertThat(setCookie).matches("sticky=\"[0-9a-f]{16}\"; Max-Age=3600; Path=/app; HttpOnly");
    String value = setCookie.substring("sticky=\"".length(), "sticky=\"".length() + 16);
    String host = first.headers().firstValue("x-upstream").orElseThrow();

    Set<String> hosts = new HashSet<>();
    for (int i = 0; i < 10; i++) {
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(legate.uri("front", "/app"))
          .header("cookie", "sticky=" + value).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.headers().firstValue("set-cookie")).isEmpty();
      hosts.add(r.headers().firstValue("x-upstream").orElseThrow());
    }
    assertThat(hosts).containsExactly(host);
  }

  static Map<String, Integer> noVars() {
    return Map.of();
  }
}

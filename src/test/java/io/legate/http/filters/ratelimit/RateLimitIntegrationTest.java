package io.legate.http.filters.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** envoy.filters.http.ratelimit against a real grpc-java rate limit service. */
class RateLimitIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      node: { cluster: front-proxy }
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
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${LOG}
                    log_format:
                      text_format_source:
                        inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n"
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    rate_limits:
                    - actions:
                      - generic_key: { descriptor_value: vh }
                    routes:
                    - match: { prefix: /limited }
                      route:
                        cluster: up1
                        include_vh_rate_limits: true
                        rate_limits:
                        - actions:
                          - request_headers: { header_name: x-user, descriptor_key: user }
                          - remote_address: {}
                          - destination_cluster: {}
                          - source_cluster: {}
                        - actions:
                          - header_value_match:
                              descriptor_value: get
                              headers: [ { name: ":method", string_match: { exact: GET } } ]
                          - generic_key: { descriptor_key: k, descriptor_value: v }
                        - stage: 1
                          actions:
                          - generic_key: { descriptor_value: other-stage }
                        - actions:
                          - request_headers: { header_name: x-absent, descriptor_key: absent }
                    - match: { prefix: /vh }
                      route: { cluster: up1 }
                    - match: { prefix: / }
                      route:
                        cluster: up1
                        rate_limits:
                        - actions:
                          - request_headers: { header_name: x-absent, descriptor_key: absent }
                http_filters:
                - name: envoy.filters.http.ratelimit
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
                    domain: edge
                    timeout: ${TIMEOUT}
                    failure_mode_deny: ${DENY}
                    enable_x_ratelimit_headers: DRAFT_VERSION_03
                    rate_limit_service:
                      transport_api_version: V3
                      grpc_service: { envoy_grpc: { cluster_name: rls } }
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up1
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up1
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
        - name: rls
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: {http2_protocol_options: {}}
          load_assignment:
            cluster_name: rls
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${RLS} } } }
      """;

  @TempDir Path dir;
  TestUpstream up1;
  Server rls;
  RefusedPort refused;
  Legate legate;
  final LinkedBlockingQueue<RateLimitRequest> received = new LinkedBlockingQueue<>();
  volatile Function<RateLimitRequest, RateLimitResponse> answer;
  volatile long delayMs;
  final java.util.List<Thread> delayed = new java.util.concurrent.CopyOnWriteArrayList<>();

  @AfterEach
  void stop() throws Exception {
    // Let late answers be written before the service goes away (a write racing the shutdown
    // leaves its frame unreleased inside grpc-java, which the leak detector reports).
    for (Thread t : delayed) {
      t.join(5_000);
    }
    if (legate != null) {
      legate.close();
    }
    if (rls != null) {
      rls.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (up1 != null) {
      up1.close();
    }
    if (refused != null) {
      refused.close();
    }
  }

  private void start(String timeout, boolean deny, boolean serviceUp) throws Exception {
    up1 = new TestUpstream("up1");
    int rlsPort;
    if (serviceUp) {
      rls = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(new RateLimitServiceGrpc.RateLimitServiceImplBase() {
            @Override
            public void shouldRateLimit(RateLimitRequest req, StreamObserver<RateLimitResponse> out) {
              received.add(req);
              Runnable reply = () -> {
                out.onNext(answer.apply(req));
                out.onCompleted();
              };
              if (delayMs > 0) {
                Thread t = new Thread(() -> {
                  try {
                    Thread.sleep(delayMs);
                  } catch (InterruptedException e) {
                    return;
                  }
                  reply.run();
                });
                delayed.add(t);
                t.start();
              } else {
                reply.run();
              }
            }
          })
          .build()
          .start();
      rlsPort = rls.getPort();
    } else {
      refused = new RefusedPort();
      rlsPort = refused.port();
    }
    legate = Legate.start(CONFIG, Map.of("UP1", up1.port(), "RLS", rlsPort, "TIMEOUT", timeout,
        "DENY", deny, "LOG", dir.resolve("access.log")));
  }

  private static RateLimitResponse ok() {
    return RateLimitResponse.newBuilder().setOverallCode(RateLimitResponse.Code.OK)
        .addStatuses(RateLimitResponse.DescriptorStatus.newBuilder()
            .setCode(RateLimitResponse.Code.OK)
            .setCurrentLimit(RateLimitResponse.RateLimit.newBuilder().setRequestsPerUnit(10)
                .setUnit(RateLimitResponse.RateLimit.Unit.MINUTE).setName("per-user"))
            .setLimitRemaining(7)
            .setDurationUntilReset(com.google.protobuf.Duration.newBuilder().setSeconds(42)))
        .addStatuses(RateLimitResponse.DescriptorStatus.newBuilder()
            .setCode(RateLimitResponse.Code.OK)
            .setCurrentLimit(RateLimitResponse.RateLimit.newBuilder().setRequestsPerUnit(100)
                .setUnit(RateLimitResponse.RateLimit.Unit.HOUR))
            .setLimitRemaining(90))
        .addResponseHeadersToAdd(HeaderValue.newBuilder().setKey("x-rls").setValue("seen"))
        .addRequestHeadersToAdd(HeaderValue.newBuilder().setKey("x-from-rls").setValue("yes"))
        .build();
  }

  private long counter(String name) {
    return legate.server().stats().counter(name).value();
  }

  private List<String> log() throws Exception {
    Path p = dir.resolve("access.log");
    for (int i = 0; i < 50 && (!Files.exists(p) || Files.readAllLines(p).isEmpty()); i++) {
      Thread.sleep(50);
    }
    Thread.sleep(100);
    return Files.readAllLines(p);
  }

  @Test
  void sendsTheDescriptorsOfTheRouteAndVirtualHostAndPassesWhenUnderLimit() throws Exception {
    answer = r -> ok();
    start("2s", false, true);
    HttpResponse<String> r = legate.get("front", "/limited", "x-user", "alice");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("x-from-rls: yes");
    assertThat(r.headers().firstValue("x-rls")).hasValue("seen");
    assertThat(r.headers().firstValue("x-ratelimit-limit")).hasValue("10, 10;w=60;name=\"per-user\", 100;w=3600");
    assertThat(r.headers().firstValue("x-ratelimit-remaining")).hasValue("7");
    assertThat(r.headers().firstValue("x-ratelimit-reset")).hasValue("42");

    RateLimitRequest req = received.poll(5, TimeUnit.SECONDS);
    assertThat(req).isNotNull();
    assertThat(req.getDomain()).isEqualTo("edge");
    List<List<String>> got = req.getDescriptorsList().stream()
        .map(d -> d.getEntriesList().stream().map(e -> e.getKey() + "=" + e.getValue()).toList())
        .toList();
    assertThat(got).containsExactly(
        List.of("user=alice", "remote_address=127.0.0.1", "destination_cluster=up1",
            "source_cluster=front-proxy"),
        List.of("header_match=get", "k=v"),
        List.of("generic_key=vh"));
    assertThat(counter("cluster.up1.ratelimit.ok")).isEqualTo(1);

    // A route without rate limits uses the virtual host's; one with a descriptor that cannot be
    // built (and no include_vh_rate_limits) calls nothing.
    assertThat(legate.get("front", "/vh").statusCode()).isEqualTo(200);
    RateLimitRequest vh = received.poll(5, TimeUnit.SECONDS);
    assertThat(vh.getDescriptorsList()).hasSize(1);
    assertThat(vh.getDescriptors(0).getEntries(0).getValue()).isEqualTo("vh");
    assertThat(legate.get("front", "/other").statusCode()).isEqualTo(200);
    assertThat(received.poll(200, TimeUnit.MILLISECONDS)).isNull();
    assertThat(counter("cluster.up1.ratelimit.ok")).isEqualTo(2);
  }

  @Test
  void headersFromTheServiceThatCannotBeWrittenNeverReachTheWire() throws Exception {
    // A service (or whoever answers in its place) asking for CR LF in a value: written as is, the
    // upstream would read a second header, and the client a forged Set-Cookie.
    answer = r -> ok().toBuilder()
        .addRequestHeadersToAdd(HeaderValue.newBuilder().setKey("x-split").setValue("a\r\nx-smuggled: 1"))
        .addResponseHeadersToAdd(HeaderValue.newBuilder().setKey("x-split-back").setValue("b\r\nset-cookie: evil=1"))
        .build();
    start("2s", false, true);
    HttpResponse<String> r = legate.get("front", "/limited", "x-user", "alice");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("x-from-rls: yes").doesNotContain("x-smuggled").doesNotContain("x-split");
    assertThat(r.headers().firstValue("x-rls")).hasValue("seen");
    assertThat(r.headers().map()).doesNotContainKeys("set-cookie", "x-split-back");
    // Over HTTP/2 downstream too (its request header map refuses such a value when it is set).
    try (H2Client h2 = new H2Client(legate.port("front"))) {
      H2Client.Response h2r = h2.send("GET", "/limited", "127.0.0.1", (byte[]) null,
          new io.netty.handler.codec.http2.DefaultHttp2Headers().add("x-user", "alice"), null, 5);
      assertThat(h2r.status()).isEqualTo(200);
      assertThat(h2r.body()).contains("x-from-rls: yes").doesNotContain("x-smuggled");
      assertThat(h2r.headers().contains("set-cookie")).isFalse();
    }
  }

  @Test
  void remoteAddressIsTheClientTheConnectionManagerTrusts() throws Exception {
    // Without use_remote_address, the client is the last x-forwarded-for address (as Envoy's
    // remote_address action: "the trusted address from x-forwarded-for").
    answer = r -> ok();
    start("2s", false, true);
    HttpResponse<String> r =
        legate.get("front", "/limited", "x-user", "bob", "x-forwarded-for", "198.51.100.1, 203.0.113.7");
    assertThat(r.statusCode()).isEqualTo(200);
    RateLimitRequest req = received.poll(5, TimeUnit.SECONDS);
    assertThat(req).isNotNull();
    assertThat(req.getDescriptors(0).getEntriesList())
        .anySatisfy(e -> {
          assertThat(e.getKey()).isEqualTo("remote_address");
          assertThat(e.getValue()).isEqualTo("203.0.113.7");
        });
  }

  @Test
  void overLimitIsA429WithTheRateLimitedFlag() throws Exception {
    answer = r -> RateLimitResponse.newBuilder().setOverallCode(RateLimitResponse.Code.OVER_LIMIT).build();
    start("2s", false, true);
    HttpResponse<String> r = legate.get("front", "/limited", "x-user", "bob");
    assertThat(r.statusCode()).isEqualTo(429);
    assertThat(r.headers().firstValue("x-envoy-ratelimited")).hasValue("true");
    assertThat(up1.requests()).isEmpty();
    assertThat(counter("cluster.up1.ratelimit.over_limit")).isEqualTo(1);
    assertThat(counter("cluster.up1.ratelimit.ok")).isEqualTo(0);
    assertThat(log()).containsExactly("/limited 429 RL");
  }

  @Test
  void serviceDownIsAllowedByDefault() throws Exception {
    start("0.5s", false, false);
    HttpResponse<String> r = legate.get("front", "/limited", "x-user", "carol");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(counter("cluster.up1.ratelimit.error")).isEqualTo(1);
    assertThat(counter("cluster.up1.ratelimit.failure_mode_allowed")).isEqualTo(1);
  }

  @Test
  void serviceDownIsDeniedWithFailureModeDeny() throws Exception {
    start("0.5s", true, false);
    HttpResponse<String> r = legate.get("front", "/limited", "x-user", "carol");
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(counter("cluster.up1.ratelimit.error")).isEqualTo(1);
    assertThat(counter("cluster.up1.ratelimit.failure_mode_allowed")).isEqualTo(0);
    assertThat(log()).containsExactly("/limited 500 RLSE");
  }

  @Test
  void aSlowServiceTimesOutAndTheRequestGoesOn() throws Exception {
    answer = r -> RateLimitResponse.newBuilder().setOverallCode(RateLimitResponse.Code.OVER_LIMIT).build();
    start("0.3s", false, true);
    // Warm the channel up (its first connection is not part of the timeout under test).
    assertThat(legate.get("front", "/vh").statusCode()).isEqualTo(429);
    delayMs = 2000;
    long t0 = System.nanoTime();
    HttpResponse<String> r = legate.get("front", "/vh");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(ms).isBetween(250L, 1500L);
    assertThat(counter("cluster.up1.ratelimit.error")).isEqualTo(1);
    assertThat(counter("cluster.up1.ratelimit.failure_mode_allowed")).isEqualTo(1);
  }
}

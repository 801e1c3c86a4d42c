package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.AbstractScheduledEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import java.lang.reflect.Field;
import java.net.http.HttpResponse;
import java.util.Collection;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Upstream connections' idle timeout ({@code common_http_protocol_options.idle_timeout} on the
 * cluster): an idle pooled connection is closed once it has been idle that long, a request in
 * between starts the count again, and keeping the timer costs one scheduled task per connection, not
 * one per request.
 */
class UpstreamIdleTimeoutIntegrationTest {
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
                    - match: { prefix: "/short" }
                      route: { cluster: short }
                    - match: { prefix: "/h2" }
                      route: { cluster: h2short }
                    - match: { prefix: "/" }
                      route: { cluster: long }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: short
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              common_http_protocol_options: { idle_timeout: 2s }
              explicit_http_config: { http_protocol_options: {} }
          load_assignment:
            cluster_name: short
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${SHORT} } } }
        - name: h2short
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              common_http_protocol_options: { idle_timeout: 1s }
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: h2short
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${H2} } } }
        - name: long
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: long
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${LONG} } } }
      """;

  static TestUpstream shortUp;
  static TestUpstream longUp;
  static TestUpstream h2Up;
  static Legate legate;

  @BeforeAll
  static void start() {
    shortUp = new TestUpstream("short");
    longUp = new TestUpstream("long");
    h2Up = new TestUpstream("h2");
    legate = Legate.start(CONFIG, Map.of("SHORT", shortUp.port(), "LONG", longUp.port(), "H2", h2Up.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    shortUp.close();
    longUp.close();
    h2Up.close();
  }

  @Test
  void idleConnectionClosesAfterTheIdleTimeoutCountedFromItsLastRequest() throws Exception {
    long t0 = System.nanoTime();
    assertThat(legate.get("front", "/short/1").statusCode()).isEqualTo(200);
    Thread.sleep(500);
    assertThat(legate.get("front", "/short/2").statusCode()).isEqualTo(200);
    long secondAt = System.nanoTime();
    assertThat(shortUp.connections()).as("the second request reused the pooled connection").isEqualTo(1);
    // The timer armed by the first idle period fires ~2 s after t0; the connection has then been idle
    // only since the second request, so it must survive until 2 s after that.
    while (System.nanoTime() - t0 < 2_300_000_000L) {
      Thread.sleep(50);
    }
    if (System.nanoTime() - secondAt < 1_900_000_000L) {
      assertThat(legate.stat("cluster.short.upstream_cx_idle_timeout")).isZero();
      assertThat(legate.stat("cluster.short.upstream_cx_active")).isEqualTo(1);
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (legate.stat("cluster.short.upstream_cx_idle_timeout") == 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(legate.stat("cluster.short.upstream_cx_idle_timeout")).isEqualTo(1);
    assertThat(System.nanoTime() - secondAt).isGreaterThanOrEqualTo(2_000_000_000L);
    assertThat(legate.stat("cluster.short.upstream_cx_active")).isZero();
    // A new request opens a new connection.
    assertThat(legate.get("front", "/short/3").statusCode()).isEqualTo(200);
    assertThat(shortUp.connections()).isEqualTo(2);
  }

  @Test
  void idleHttp2UpstreamConnectionIsClosedToo() throws Exception {
    assertThat(legate.get("front", "/h2/1").statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/h2/2").statusCode()).isEqualTo(200);
    assertThat(legate.stat("cluster.h2short.upstream_cx_http2_total")).isEqualTo(1);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (legate.stat("cluster.h2short.upstream_cx_idle_timeout") == 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(legate.stat("cluster.h2short.upstream_cx_idle_timeout")).isEqualTo(1);
    assertThat(legate.get("front", "/h2/3").statusCode()).isEqualTo(200);
    assertThat(legate.stat("cluster.h2short.upstream_cx_http2_total")).isEqualTo(2);
  }

  @Test
  void keepingTheIdleTimerDoesNotQueueATaskPerRequest() throws Exception {
    for (int i = 0; i < 400; i++) {
      HttpResponse<String> r = legate.get("front", "/long/" + i);
      assertThat(r.statusCode()).isEqualTo(200);
    }
    int queued = 0;
    for (EventExecutor e : legate.server().workers()) {
      queued += ((EventLoop) e).submit(() -> scheduledTasks(e)).get();
    }
    // Per connection: the downstream idle handler and the upstream idle timer; nothing per request.
    assertThat(queued).isLessThan(40);
  }

  private static int scheduledTasks(EventExecutor loop) throws ReflectiveOperationException {
    Field f = AbstractScheduledEventExecutor.class.getDeclaredField("scheduledTaskQueue");
    f.setAccessible(true);
    Collection<?> q = (Collection<?>) f.get(loop);
    return q == null ? 0 : q.size();
  }
}

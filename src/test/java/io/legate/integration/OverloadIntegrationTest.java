package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The overload manager: monitors, actions and the global downstream connection limit. */
class OverloadIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      overload_manager:
        refresh_interval: 0.02s
        resource_monitors:
        - name: envoy.resource_monitors.injected_resource
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.resource_monitors.injected_resource.v3.InjectedResourceConfig
            filename: ${PRESSURE}
        - name: envoy.resource_monitors.global_downstream_max_connections
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
            max_active_downstream_connections: 4
        actions:
        - name: envoy.overload_actions.disable_http_keepalive
          triggers: [{ name: envoy.resource_monitors.injected_resource, threshold: { value: 0.5 } }]
        - name: envoy.overload_actions.stop_accepting_requests
          triggers: [{ name: envoy.resource_monitors.injected_resource, scaled: { scaling_threshold: 0.8, saturation_threshold: 0.9 } }]
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
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """;

  @TempDir static Path dir;
  static Path pressure;
  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    pressure = dir.resolve("pressure");
    Files.writeString(pressure, "0.0");
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port(), "PRESSURE", pressure.toString()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    up.close();
  }

  static void setPressure(String value, String action, long active) throws Exception {
    Path tmp = dir.resolve("pressure.tmp");
    Files.writeString(tmp, value);
    Files.move(tmp, pressure, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    long deadline = System.currentTimeMillis() + 5000;
    while (legate.stat("overload." + action + ".active") != active && System.currentTimeMillis() < deadline) {
      Thread.sleep(10);
    }
    assertThat(legate.stat("overload." + action + ".active")).isEqualTo(active);
  }

  @Test
  void actionsFollowThePressure() throws Exception {
    String req = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    // Below every threshold: keep-alive, the request proxied.
    String normal = legate.raw("edge", req, 500);
    assertThat(normal).startsWith("HTTP/1.1 200 OK\r\n").doesNotContainIgnoringCase("connection: close");
    try (io.legate.testing.H2Client h2 = new io.legate.testing.H2Client(legate.port("edge"))) {
      assertThat(h2.get("/h2").status()).isEqualTo(200);
      assertThat(h2.get("/h2").status()).isEqualTo(200); // the same connection serves again
    }

    setPressure("0.6", "envoy.overload_actions.disable_http_keepalive", 1);
    assertThat(legate.stat("overload.envoy.resource_monitors.injected_resource.pressure")).isEqualTo(60);
    assertThat(legate.stat("overload.envoy.overload_actions.stop_accepting_requests.active")).isZero();
    String closing = legate.raw("edge", req, 3000);
    assertThat(closing).startsWith("HTTP/1.1 200 OK\r\n").containsIgnoringCase("\r\nconnection: close\r\n");
    assertThat(legate.stat("http.edge.downstream_cx_overload_disable_keepalive")).isEqualTo(1);
    // HTTP/2: the response is served, then the connection drains with GOAWAY and closes.
    try (io.legate.testing.H2Client h2 = new io.legate.testing.H2Client(legate.port("edge"))) {
      assertThat(h2.get("/h2").status()).isEqualTo(200);
      assertThat(h2.awaitClosed(5000)).isTrue();
    }
    assertThat(legate.stat("http.edge.downstream_cx_overload_disable_keepalive")).isEqualTo(2);

    setPressure("0.85", "envoy.overload_actions.disable_http_keepalive", 1);
    long deadline = System.currentTimeMillis() + 5000;
    while (legate.stat("overload.envoy.overload_actions.stop_accepting_requests.scale_percent") != 50
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(10);
    }
    assertThat(legate.stat("overload.envoy.overload_actions.stop_accepting_requests.scale_percent")).isEqualTo(50);
    assertThat(legate.stat("overload.envoy.overload_actions.stop_accepting_requests.active")).isZero();

    setPressure("0.95", "envoy.overload_actions.stop_accepting_requests", 1);
    var refused = legate.get("edge", "/y");
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.body()).isEqualTo("envoy overloaded");
    assertThat(legate.stat("http.edge.downstream_rq_overload_close")).isEqualTo(1);

    setPressure("0.1", "envoy.overload_actions.stop_accepting_requests", 0);
    setPressure("0.1", "envoy.overload_actions.disable_http_keepalive", 0);
    assertThat(legate.get("edge", "/z").statusCode()).isEqualTo(200);
  }

  @Test
  void globalConnectionLimitRefusesTheExtraConnection() throws Exception {
    long before = legate.stat("listener.127.0.0.1_0.downstream_global_cx_overflow");
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", legate.port("edge")), 2000);
        held.add(s);
      }
      long deadline = System.currentTimeMillis() + 5000;
      while (legate.stat("overload.envoy.resource_monitors.global_downstream_max_connections.pressure") < 100
          && System.currentTimeMillis() < deadline) {
        Thread.sleep(10);
      }
      assertThat(legate.stat("overload.envoy.resource_monitors.global_downstream_max_connections.pressure")).isEqualTo(100);
      try (Socket extra = new Socket()) {
        extra.connect(new InetSocketAddress("127.0.0.1", legate.port("edge")), 2000);
        extra.setSoTimeout(3000);
        extra.getOutputStream().write("GET / HTTP/1.1\r\nHost: a\r\n\r\n".getBytes());
        InputStream in = extra.getInputStream();
        int b;
        try {
          b = in.read();
        } catch (java.io.IOException e) {
          b = -1;
        }
        assertThat(b).as("the extra connection is closed unanswered").isEqualTo(-1);
      }
      // (The JDK client of the other test may hold a pooled connection, so one of the four may
      // have been refused too.)
      assertThat(legate.stat("listener.127.0.0.1_0.downstream_global_cx_overflow")).isBetween(before + 1, before + 2);
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
    // Closing them frees the slots.
    long deadline = System.currentTimeMillis() + 5000;
    while (legate.stat("overload.envoy.resource_monitors.global_downstream_max_connections.pressure") > 0
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(10);
    }
    assertThat(legate.get("edge", "/after").statusCode()).isEqualTo(200);
  }

  @Test
  void badOverloadConfigNamesTheField() {
    String bad =
        """
        overload_manager:
          resource_monitors:
          - name: envoy.resource_monitors.fixed_heap
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
              max_heap_size_bytes: 1000000
          actions:
          - name: envoy.overload_actions.stop_accepting_requests
            triggers: [{ name: envoy.resource_monitors.nope, threshold: { value: 0.9 } }]
        """;
    assertThatThrownBy(() -> Legate.start(bad, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("overload_manager.actions[0].triggers[0].name: unknown resource monitor 'envoy.resource_monitors.nope'");
  }
}

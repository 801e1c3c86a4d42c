package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /stats/prometheus} after known traffic (successes and failures of several kinds), read by a
 * real Prometheus text parser: Debian's {@code python3-prometheus-client} ({@code
 * prometheus_client.parser}), plus the checks that lax parser leaves out (one TYPE line per family,
 * every sample in a typed family, histogram buckets ending at {@code le="+Inf"} equal to
 * {@code _count}). The parser must be installed ({@code .ci/run} installs it); without it the test
 * fails.
 */
class PrometheusExpositionIntegrationTest {
  /** Debian's interpreter, which sees Debian's python3-prometheus-client whatever else is on PATH. */
  static final String PYTHON = "/usr/bin/python3";

  @TempDir Path dir;

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
                stat_prefix: front
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/ok" }
                      route: { cluster: up }
                    - match: { prefix: "/status" }
                      route: { cluster: up }
                    - match: { prefix: "/dead" }
                      route: { cluster: dead }
                    - match: { prefix: "/none" }
                      route: { cluster: empty }
                    - match: { prefix: "/odd" }
                      route: { cluster: "odd\\"\\\\name" }
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
        - name: "odd\\"\\\\name"
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: "odd\\"\\\\name"
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: dead
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: dead
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${DEAD} } } }
        - name: empty
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: empty }
      """;

  @Test
  void exposition_parsesAndCarriesTheTrafficsValues() throws Exception {
    try (RefusedPort dead = new RefusedPort()) {
      exposition(dead.port());
    }
  }

  private void exposition(int deadPort) throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "DEAD", deadPort))) {
      for (int i = 0; i < 3; i++) {
        assertThat(l.get("front", "/ok/" + i).statusCode()).isEqualTo(200);
      }
      assertThat(l.get("front", "/status/404").statusCode()).isEqualTo(404);
      assertThat(l.get("front", "/odd").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/dead").statusCode()).isEqualTo(503);
      assertThat(l.get("front", "/dead").statusCode()).isEqualTo(503);
      assertThat(l.get("front", "/none").statusCode()).isEqualTo(503);
      assertThat(l.get("front", "/missing").statusCode()).isEqualTo(404);

      String exposition = l.admin("/stats/prometheus").body();
      List<String> parsed = parse(exposition);
      assertThat(parsed)
          .as("parsed exposition:\n%s", exposition)
          .contains(
              // counters (the parser names counter samples <family>_total)
              "counter envoy_cluster_upstream_rq_total{envoy_cluster_name=\"up\"} 4",
              "counter envoy_cluster_upstream_rq_total{envoy_cluster_name=\"up\",envoy_response_code=\"200\"} 3",
              "counter envoy_cluster_upstream_rq_total{envoy_cluster_name=\"up\",envoy_response_code=\"404\"} 1",
              "counter envoy_cluster_upstream_rq_xx_total{envoy_cluster_name=\"up\",envoy_response_code_class=\"2\"} 3",
              "counter envoy_cluster_upstream_cx_connect_fail_total{envoy_cluster_name=\"dead\"} 2",
              "counter envoy_cluster_upstream_cx_none_healthy_total{envoy_cluster_name=\"empty\"} 1",
              "counter envoy_cluster_upstream_rq_total{envoy_cluster_name=\"odd\"\\name\"} 1",
              "counter envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix=\"front\"} 9",
              "counter envoy_http_downstream_rq_xx_total{envoy_http_conn_manager_prefix=\"front\",envoy_response_code_class=\"2\"} 4",
              "counter envoy_http_downstream_rq_xx_total{envoy_http_conn_manager_prefix=\"front\",envoy_response_code_class=\"4\"} 2",
              "counter envoy_http_downstream_rq_xx_total{envoy_http_conn_manager_prefix=\"front\",envoy_response_code_class=\"5\"} 3",
              "counter envoy_http_no_route_total{envoy_http_conn_manager_prefix=\"front\"} 1",
              // gauges
              "gauge envoy_server_live{} 1",
              "gauge envoy_cluster_membership_total{envoy_cluster_name=\"up\"} 1",
              "gauge envoy_cluster_membership_total{envoy_cluster_name=\"empty\"} 0",
              // histograms
              "histogram envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"up\"} 4",
              "histogram envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix=\"front\"} 9",
              "histogram envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix=\"front\",le=\"+Inf\"} 9");
    }
  }

  @Test
  void exposition_withFixedTagsAndCustomBuckets_parses() throws Exception {
    String yaml =
        """
        stats_config:
          stats_tags:
          - tag_name: team
            fixed_value: "pay\\"ments\\\\x"
          histogram_bucket_settings:
          - match: { prefix: "cluster.up.upstream_rq_time" }
            buckets: [1, 2.5, 100]
        """
            + CONFIG;
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(yaml, Map.of("UP", up.port(), "DEAD", 1))) {
      assertThat(l.get("front", "/ok/1").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/ok/2").statusCode()).isEqualTo(200);
      String exposition = l.admin("/stats/prometheus").body();
      List<String> parsed = parse(exposition);
      assertThat(parsed)
          .as("parsed exposition:\n%s", exposition)
          .contains(
              "counter envoy_cluster_upstream_rq_total{envoy_cluster_name=\"up\",team=\"pay\"ments\\x\"} 2",
              "histogram envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"up\",le=\"+Inf\",team=\"pay\"ments\\x\"} 2",
              "histogram envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"up\",team=\"pay\"ments\\x\"} 2")
          .anyMatch(x -> x.startsWith("histogram envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"up\",le=\"2.5\","));
    }
  }

  /** Runs the parser over {@code exposition}; fails with its verdict when it refuses the text. */
  static List<String> parse(String exposition) throws Exception {
    Path script = Path.of(PrometheusExpositionIntegrationTest.class.getResource("/prometheus/check_exposition.py").toURI());
    Process p = new ProcessBuilder(PYTHON, script.toString()).redirectErrorStream(true).start();
    try (OutputStream in = p.getOutputStream()) {
      in.write(exposition.getBytes(StandardCharsets.UTF_8));
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (InputStream o = p.getInputStream()) {
      o.transferTo(out);
    }
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(p.exitValue())
        .as("%s %s (is python3-prometheus-client installed?) said:%n%s%nfor:%n%s", PYTHON, script, text, exposition)
        .isZero();
    return text.lines().toList();
  }
}

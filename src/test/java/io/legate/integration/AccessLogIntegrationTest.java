package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File access logs: Envoy's default format, a custom text format and a JSON format. */
class AccessLogIntegrationTest {
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
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${DEFAULT}
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${TEXT}
                    log_format:
                      text_format_source:
                        inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%\\n"
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${JSON}
                    log_format:
                      json_format: { method: "%REQ(:METHOD)%", code: "%RESPONSE_CODE%", flags: "%RESPONSE_FLAGS%" }
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/up" }
                      route: { cluster: up }
                    - match: { prefix: "/delay" }
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

  @Test
  void writesEntriesInEachFormat() throws Exception {
    Path def = dir.resolve("default.log");
    Path text = dir.resolve("text.log");
    Path json = dir.resolve("json.log");
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "DEFAULT", def, "TEXT", text, "JSON", json))) {
      assertThat(l.get("front", "/up/a", "user-agent", "test-agent").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/missing").statusCode()).isEqualTo(404);
      List<String> textLines = waitForLines(text, 2);
      assertThat(textLines).containsExactly("GET /up/a 200 - up", "GET /missing 404 NR -");
      List<String> jsonLines = waitForLines(json, 2);
      assertThat(jsonLines.get(0)).isEqualTo("{\"method\":\"GET\",\"code\":200,\"flags\":\"-\"}");
      assertThat(jsonLines.get(1)).isEqualTo("{\"method\":\"GET\",\"code\":404,\"flags\":\"NR\"}");
      List<String> defLines = waitForLines(def, 2);
      assertThat(defLines.get(0))
          .matches(
              "\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] \"GET /up/a HTTP/1.1\" 200 - 0 \\d+ \\d+ \\d+ \"-\" \"test-agent\" \"[0-9a-f-]{36}\" \"127.0.0.1:\\d+\" \"127.0.0.1:"
                  + up.port() + "\"");
    }
  }

  @Test
  void downstreamDisconnectIsFlaggedDc() throws Exception {
    Path def = dir.resolve("d.log");
    Path text = dir.resolve("t.log");
    Path json = dir.resolve("j.log");
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "DEFAULT", def, "TEXT", text, "JSON", json))) {
      // The client gives up while the upstream is still working: Envoy logs DC and resets upstream.
      l.raw("front", "GET /delay/1500 HTTP/1.1\r\nHost: a\r\n\r\n", 300);
      List<String> lines = waitForLines(text, 1);
      assertThat(lines).containsExactly("GET /delay/1500 0 DC up");
      assertThat(l.stat("http.front.downstream_rq_rx_reset")).isEqualTo(1);
      assertThat(l.stat("cluster.up.upstream_rq_tx_reset")).isEqualTo(1);
    }
  }

  static List<String> waitForLines(Path p, int n) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (Files.exists(p)) {
        List<String> lines = Files.readAllLines(p);
        if (lines.size() >= n) {
          return lines;
        }
      }
      Thread.sleep(50);
    }
    return Files.exists(p) ? Files.readAllLines(p) : List.of();
  }
}

package io.legate.integration;

import static io.legate.integration.AccessLogIntegrationTest.waitForLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Access log filters decide, per finished request, which loggers write it. */
class AccessLogFilterIntegrationTest {
  @TempDir Path dir;

  static String logger(String file, String filter) {
    return """
                - name: envoy.access_loggers.file
                  filter: %s
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${%s}
                    log_format: { text_format_source: { inline_string: "%%REQ(:METHOD)%% %%REQ(:PATH)%% %%RESPONSE_CODE%%\\n" } }
      """.formatted(filter, file);
  }

  static final String CONFIG =
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
                access_log:
      """
          + logger("ERRORS", "{ status_code_filter: { comparison: { op: GE, value: { default_value: 400, runtime_key: k1 } } } }")
          + logger("SLOW", "{ duration_filter: { comparison: { op: GE, value: { default_value: 400, runtime_key: k2 } } } }")
          + logger("FLAGS", "{ response_flag_filter: { flags: [NR] } }")
          + logger("HEADER", "{ header_filter: { header: { name: x-log, present_match: true } } }")
          + logger(
              "COMBO",
              "{ and_filter: { filters: [ { not_health_check_filter: {} }, { or_filter: { filters: ["
                  + " { status_code_filter: { comparison: { op: EQ, value: { default_value: 200, runtime_key: k3 } } } },"
                  + " { status_code_filter: { comparison: { op: EQ, value: { default_value: 404, runtime_key: k4 } } } } ] } } ] } }")
          + """
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
                - name: envoy.filters.http.health_check
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                    pass_through_mode: false
                    headers: [{ name: ":path", string_match: { exact: /healthz } }]
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
  void eachLoggerWritesWhatItsFilterAccepts() throws Exception {
    try (TestUpstream up = new TestUpstream("up")) {
      Map<String, Object> vars = new HashMap<>();
      vars.put("UP", up.port());
      for (String f : new String[] {"ERRORS", "SLOW", "FLAGS", "HEADER", "COMBO"}) {
        vars.put(f, dir.resolve(f.toLowerCase() + ".log"));
      }
      try (Legate l = Legate.start(CONFIG, vars)) {
        assertThat(l.get("front", "/up/a").statusCode()).isEqualTo(200);
        assertThat(l.get("front", "/missing").statusCode()).isEqualTo(404);
        assertThat(l.get("front", "/delay/600").statusCode()).isEqualTo(200);
        assertThat(l.get("front", "/up/b", "x-log", "1").statusCode()).isEqualTo(200);
        assertThat(l.get("front", "/healthz").statusCode()).isEqualTo(200);
        assertThat(waitForLines(dir.resolve("combo.log"), 4))
            .as("not health checks, and 200 or 404")
            .containsExactly("GET /up/a 200", "GET /missing 404", "GET /delay/600 200", "GET /up/b 200");
        assertThat(waitForLines(dir.resolve("errors.log"), 1)).containsExactly("GET /missing 404");
        assertThat(waitForLines(dir.resolve("slow.log"), 1)).containsExactly("GET /delay/600 200");
        assertThat(waitForLines(dir.resolve("flags.log"), 1)).containsExactly("GET /missing 404");
        assertThat(waitForLines(dir.resolve("header.log"), 1)).containsExactly("GET /up/b 200");
      }
    }
  }

  @Test
  void unknownFlagIsAConfigError() {
    String yaml =
        CONFIG.replace("response_flag_filter: { flags: [NR] }", "response_flag_filter: { flags: [XX] }");
    Map<String, Object> vars = new HashMap<>();
    vars.put("UP", 1);
    for (String f : new String[] {"ERRORS", "SLOW", "FLAGS", "HEADER", "COMBO"}) {
      vars.put(f, dir.resolve(f.toLowerCase() + ".log"));
    }
    assertThatThrownBy(() -> Legate.start(yaml, vars))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("access_log[2].filter.response_flag_filter.flags[0]: value must be in list [LH, UH, UT,");
  }
}

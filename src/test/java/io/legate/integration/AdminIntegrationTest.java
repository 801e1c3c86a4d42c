package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin endpoints on a whole server: stats_config, reset_counters, clusters JSON, config_dump filters, logs. */
class AdminIntegrationTest {
  @TempDir Path dir;

  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      layered_runtime:
        layers:
        - name: static
          static_layer:
            health_check: { min_interval: 5 }
            feature_on: true
        - name: admin
          admin_layer: {}
      stats_config:
        use_all_default_tags: false
        stats_tags:
        - tag_name: envoy.cluster_name
        - tag_name: team
          fixed_value: payments
        - tag_name: method_kind
          regex: "^http\\\\.front\\\\.(kind_(\\\\w+)\\\\.)"
        histogram_bucket_settings:
        - match: { prefix: "cluster.up.upstream_rq_time" }
          buckets: [1, 10, 100]
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
                    path: ${LOG}
                    log_format: { text_format_source: { inline_string: "%REQ(:PATH)%\\n" } }
                route_config:
                  name: main_routes
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
        - name: other
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: other
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } }
      """;

  private Legate start(TestUpstream up, Path log) {
    return Legate.start(CONFIG, Map.of("UP", up.port(), "LOG", log));
  }

  @Test
  void customTagsAndBucketsInPrometheus() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      assertThat(l.get("front", "/x").statusCode()).isEqualTo(200);
      l.server().stats().counter("http.front.kind_read.total").inc();
      String prom = l.admin("/stats/prometheus").body();
      // Only the named default extractor and the custom ones run: no response-code tags.
      assertThat(prom).contains(
          "# TYPE envoy_cluster_upstream_rq_200 counter\n"
              + "envoy_cluster_upstream_rq_200{team=\"payments\",envoy_cluster_name=\"up\"} 1\n",
          "envoy_http_front_total{team=\"payments\",method_kind=\"read\"} 1\n",
          "envoy_cluster_upstream_rq_time_bucket{team=\"payments\",envoy_cluster_name=\"up\",le=\"1\"} ",
          "envoy_cluster_upstream_rq_time_bucket{team=\"payments\",envoy_cluster_name=\"up\",le=\"100\"} 1\n"
              + "envoy_cluster_upstream_rq_time_bucket{team=\"payments\",envoy_cluster_name=\"up\",le=\"+Inf\"} 1\n"
              + "envoy_cluster_upstream_rq_time_sum{team=\"payments\",envoy_cluster_name=\"up\"} ",
          "envoy_cluster_upstream_rq_time_count{team=\"payments\",envoy_cluster_name=\"up\"} 1\n");
      assertThat(prom).doesNotContain("envoy_cluster_upstream_rq_time_bucket{team=\"payments\",envoy_cluster_name=\"up\",le=\"0.5\"}");
      String buckets = l.admin("/stats?filter=%5Ecluster%5C.up%5C.upstream_rq_time%24&histogram_buckets=cumulative").body();
      assertThat(buckets).matches("cluster\\.up\\.upstream_rq_time: B1\\(0,[01]\\) B10\\(0,[01]\\) B100\\(0,1\\)\n");
      HttpResponse<String> bad = l.admin("/stats?histogram_buckets=x");
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).isEqualTo("usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n");
      assertThat(l.admin("/stats/prometheus?histogram_buckets=disjoint").body())
          .isEqualTo("unsupported prometheus histogram bucket mode");
    }
  }

  @Test
  void resetCountersNeedsPostAndZeroesCounters() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      assertThat(l.get("front", "/x").statusCode()).isEqualTo(200);
      assertThat(l.stat("cluster.up.upstream_rq_200")).isEqualTo(1);
      HttpResponse<String> get = l.admin("/reset_counters");
      assertThat(get.statusCode()).isEqualTo(405);
      assertThat(get.body()).isEqualTo("Method GET not allowed, POST required.");
      assertThat(l.stat("cluster.up.upstream_rq_200")).isEqualTo(1);
      for (String path : List.of("/reopen_logs", "/drain_listeners", "/logging?level=info")) {
        assertThat(l.admin(path).statusCode()).as(path).isEqualTo(405);
      }
      HttpResponse<String> post = l.adminPost("/reset_counters");
      assertThat(post.statusCode()).isEqualTo(200);
      assertThat(post.body()).isEqualTo("OK\n");
      assertThat(l.stat("cluster.up.upstream_rq_200")).isEqualTo(0);
      assertThat(l.stat("server.live")).isEqualTo(1);
      assertThat(l.get("front", "/x").statusCode()).isEqualTo(200);
      assertThat(l.stat("cluster.up.upstream_rq_200")).isEqualTo(1);
    }
  }

  @Test
  void clustersJson() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      assertThat(l.get("front", "/x").statusCode()).isEqualTo(200);
      JsonObject root = JsonParser.parseString(l.admin("/clusters?format=json").body()).getAsJsonObject();
      JsonArray statuses = root.getAsJsonArray("cluster_statuses");
      assertThat(statuses).hasSize(2);
      JsonObject upStatus = null;
      for (var e : statuses) {
        if (e.getAsJsonObject().get("name").getAsString().equals("up")) {
          upStatus = e.getAsJsonObject();
        }
      }
      assertThat(upStatus).isNotNull();
      assertThat(upStatus.get("observability_name").getAsString()).isEqualTo("up");
      JsonObject host = upStatus.getAsJsonArray("host_statuses").get(0).getAsJsonObject();
      JsonObject sa = host.getAsJsonObject("address").getAsJsonObject("socket_address");
      assertThat(sa.get("address").getAsString()).isEqualTo("127.0.0.1");
      assertThat(sa.get("port_value").getAsInt()).isEqualTo(up.port());
      assertThat(host.getAsJsonObject("health_status").get("eds_health_status").getAsString()).isEqualTo("HEALTHY");
      long rqTotal = -1;
      for (var s : host.getAsJsonArray("stats")) {
        JsonObject o = s.getAsJsonObject();
        if (o.get("name").getAsString().equals("cx_active")) {
          assertThat(o.get("type").getAsString()).isEqualTo("GAUGE");
        }
        if (o.get("name").getAsString().equals("rq_total")) {
          rqTotal = o.get("value").getAsLong();
          // As Envoy prints it: default values (type COUNTER) are left out, uint64 values are strings.
          assertThat(o.has("type")).isFalse();
          assertThat(o.get("value").isJsonPrimitive() && o.get("value").getAsJsonPrimitive().isString()).isTrue();
        }
      }
      assertThat(rqTotal).isEqualTo(1);
      JsonObject listeners = JsonParser.parseString(l.admin("/listeners?format=json").body()).getAsJsonObject();
      JsonObject front = listeners.getAsJsonArray("listener_statuses").get(0).getAsJsonObject();
      assertThat(front.get("name").getAsString()).isEqualTo("front");
      assertThat(front.getAsJsonObject("local_address").getAsJsonObject("socket_address").get("port_value").getAsInt())
          .isEqualTo(l.port("front"));
    }
  }

  @Test
  void configDumpFilters() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      JsonObject byName = JsonParser.parseString(
          l.admin("/config_dump?resource=static_clusters&name_regex=oth.*").body()).getAsJsonObject();
      JsonArray configs = byName.getAsJsonArray("configs");
      assertThat(configs).hasSize(1);
      assertThat(configs.get(0).getAsJsonObject().getAsJsonObject("cluster").get("name").getAsString()).isEqualTo("other");

      JsonObject masked = JsonParser.parseString(
          l.admin("/config_dump?resource=static_clusters&mask=cluster.name").body()).getAsJsonObject();
      JsonArray maskedConfigs = masked.getAsJsonArray("configs");
      assertThat(maskedConfigs).hasSize(2);
      JsonObject cluster = maskedConfigs.get(0).getAsJsonObject().getAsJsonObject("cluster");
      assertThat(cluster.keySet()).containsExactlyInAnyOrder("@type", "name");
      assertThat(maskedConfigs.get(0).getAsJsonObject().keySet()).containsExactlyInAnyOrder("@type", "cluster");

      String all = l.admin("/config_dump").body();
      assertThat(all).doesNotContain("EndpointsConfigDump");
      JsonObject eds = JsonParser.parseString(l.admin("/config_dump?include_eds&name_regex=up").body()).getAsJsonObject();
      JsonArray edsConfigs = eds.getAsJsonArray("configs");
      JsonObject last = edsConfigs.get(edsConfigs.size() - 1).getAsJsonObject();
      assertThat(last.get("@type").getAsString()).isEqualTo("type.googleapis.com/envoy.admin.v3.EndpointsConfigDump");
      JsonArray endpoints = last.getAsJsonArray("static_endpoint_configs");
      assertThat(endpoints).hasSize(1);
      assertThat(endpoints.get(0).getAsJsonObject().getAsJsonObject("endpoint_config").get("cluster_name").getAsString())
          .isEqualTo("up");
      HttpResponse<String> bad = l.admin("/config_dump?name_regex=(");
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).startsWith("Error while parsing name_regex from (: ");
    }
  }

  @Test
  void runtimeMemoryAndIndex() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      assertThat(l.admin("/runtime").body()).isEqualTo("""
          {
           "entries": {
            "feature_on": {
             "layer_values": [
              "true",
              ""
             ],
             "final_value": "true"
            },
            "health_check.min_interval": {
             "layer_values": [
              "5",
              ""
             ],
             "final_value": "5"
            }
           },
           "layers": [
            "static",
            "admin"
           ]
          }""");
      JsonObject memory = JsonParser.parseString(l.admin("/memory").body()).getAsJsonObject();
      assertThat(memory.get("allocated").getAsLong()).isPositive();
      assertThat(memory.get("heap_size").getAsLong()).isGreaterThanOrEqualTo(memory.get("allocated").getAsLong());
      assertThat(memory.keySet()).contains("total_physical_bytes", "direct_memory_used", "netty_pooled_direct_used");
      String index = l.admin("/").body();
      assertThat(index).contains("<a href='/stats'>stats</a>", "<a href='/clusters'>clusters</a>",
          "<form action='/reset_counters' method='post' class='home-form'><button>reset_counters</button></form>",
          "<form action='/reopen_logs' method='post'");
    }
  }

  @Test
  void reopenLogsWritesToANewFileAfterRotation() throws Exception {
    Path log = dir.resolve("access.log");
    Path rotated = dir.resolve("access.log.1");
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, log)) {
      assertThat(l.get("front", "/before").statusCode()).isEqualTo(200);
      assertThat(AccessLogIntegrationTest.waitForLines(log, 1)).containsExactly("/before");
      Files.move(log, rotated);
      // Without reopening, the writer keeps writing to the renamed file.
      assertThat(l.get("front", "/still-old").statusCode()).isEqualTo(200);
      assertThat(AccessLogIntegrationTest.waitForLines(rotated, 2)).containsExactly("/before", "/still-old");
      assertThat(l.adminPost("/reopen_logs").body()).isEqualTo("OK\n");
      assertThat(l.get("front", "/after").statusCode()).isEqualTo(200);
      assertThat(AccessLogIntegrationTest.waitForLines(log, 1)).containsExactly("/after");
      assertThat(Files.readAllLines(rotated)).containsExactly("/before", "/still-old");
    }
  }

  @Test
  void drainListenersStopsAccepting() throws Exception {
    try (TestUpstream up = new TestUpstream("up"); Legate l = start(up, dir.resolve("a.log"))) {
      int port = l.port("front");
      assertThat(l.adminPost("/drain_listeners").body()).isEqualTo("OK\n");
      Thread.sleep(100);
      assertThatThrownBy(() -> new Legate.Raw("127.0.0.1", port).send("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 500))
          .hasRootCauseInstanceOf(java.net.ConnectException.class);
    }
  }
}

package io.legate.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.BootstrapConfigDump;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.legate.admin.AdminServer.ClusterStatus;
import io.legate.admin.AdminServer.HostStatus;
import io.legate.admin.AdminServer.ListenerStatus;
import io.legate.stats.StatsStore;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdminServerTest {
  static EventLoopGroup group;
  static AdminServer server;
  static FakeContext context;
  static String base;
  static final HttpClient CLIENT = HttpClient.newHttpClient();

  static final class FakeContext implements AdminServer.Context {
    final StatsStore stats = new StatsStore();
    volatile String state = "LIVE";
    volatile boolean hcFailed;
    final CountDownLatch quit = new CountDownLatch(1);
    final List<String> levels = new ArrayList<>();

    @Override public StatsStore stats() { return stats; }
    @Override public String state() { return state; }
    @Override public long uptimeCurrentEpochSeconds() { return 123; }
    @Override public long uptimeAllEpochsSeconds() { return 456; }
    @Override public String version() { return "legate/0.1.0"; }

    @Override
    public Map<String, Object> commandLineOptions() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("concurrency", 2);
      m.put("config_path", "/etc/envoy.yaml");
      m.put("log_level", "info");
      m.put("drain_time", Duration.ofSeconds(600));
      m.put("mode", "Serve");
      m.put("no_such_option", true);
      return m;
    }

    @Override public Node node() { return Node.newBuilder().setId("node-1").setCluster("front").build(); }

    @Override
    public List<ListenerStatus> listeners() {
      return List.of(
          new ListenerStatus("listener_0", new InetSocketAddress("0.0.0.0", 10000)),
          new ListenerStatus("v6", new InetSocketAddress("::1", 10001)));
    }

    @Override
    public List<ClusterStatus> clusters() {
      return List.of(new ClusterStatus("backend", false, List.of(
          new HostStatus("127.0.0.1:8080", "", 1, 0, "", 5, 1, 2, 7, 0, 6, 1, 0, "healthy"),
          new HostStatus("127.0.0.2:8080", "b.example", 2, 1, "z1", 0, 0, 0, 0, 0, 0, 0, 0,
              "/failed_active_hc"))));
    }

    @Override
    public List<Message> configDump() {
      return List.of(
          BootstrapConfigDump.newBuilder()
              .setBootstrap(Bootstrap.newBuilder().setNode(node()))
              .build(),
          ClustersConfigDump.newBuilder()
              .addStaticClusters(ClustersConfigDump.StaticCluster.newBuilder()
                  .setCluster(com.google.protobuf.Any.pack(Cluster.newBuilder()
                      .setName("backend").setAltStatName("alt").build())))
              .build());
    }

    @Override
    public JsonFormat.TypeRegistry typeRegistry() {
      return JsonFormat.TypeRegistry.newBuilder().add(Cluster.getDescriptor()).build();
    }

    @Override public void setHealthCheckFailed(boolean failed) { hcFailed = failed; }
    @Override public boolean healthCheckFailed() { return hcFailed; }
    @Override public void quit() { quit.countDown(); }
    @Override public void setLogLevel(String level) { levels.add(level); }
    @Override public Map<String, String> loggerLevels() { return Map.of("admin", "info"); }
  }

  @BeforeAll
  static void start() throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    context = new FakeContext();
    context.stats.counter("cluster.backend.upstream_rq_2xx").add(3);
    context.stats.counter("http.ingress_http.downstream_rq_total").add(5);
    context.stats.gauge("server.live").set(1);
    context.stats.histogram("cluster.backend.upstream_rq_time").record(4);
    server = new AdminServer(context);
    InetSocketAddress bound =
        server.start(new InetSocketAddress("127.0.0.1", 0), group).get(5, TimeUnit.SECONDS);
    assertThat(bound.getPort()).isPositive();
    base = "http://127.0.0.1:" + bound.getPort();
  }

  @AfterAll
  static void stop() {
    server.stop();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  static HttpResponse<String> get(String path) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(URI.create(base + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(String path) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(URI.create(base + path))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
  }

  static String contentType(HttpResponse<?> r) {
    return r.headers().firstValue("content-type").orElse("");
  }

  @Test
  void readyFollowsStateAndHealthCheckFlag() throws Exception {
    HttpResponse<String> r = get("/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("LIVE\n");
    assertThat(contentType(r)).isEqualTo("text/plain; charset=UTF-8");

    HttpResponse<String> fail = post("/healthcheck/fail");
    assertThat(fail.statusCode()).isEqualTo(200);
    assertThat(fail.body()).isEqualTo("OK\n");
    assertThat(context.hcFailed).isTrue();
    HttpResponse<String> draining = get("/ready");
    assertThat(draining.statusCode()).isEqualTo(503);
    assertThat(draining.body()).isEqualTo("DRAINING\n");

    assertThat(post("/healthcheck/ok").body()).isEqualTo("OK\n");
    assertThat(context.hcFailed).isFalse();
    context.state = "INITIALIZING";
    try {
      HttpResponse<String> init = get("/ready");
      assertThat(init.statusCode()).isEqualTo(503);
      assertThat(init.body()).isEqualTo("INITIALIZING\n");
    } finally {
      context.state = "LIVE";
    }
  }

  @Test
  void mutatingEndpointsRequirePost() throws Exception {
    HttpResponse<String> r = get("/healthcheck/fail");
    assertThat(r.statusCode()).isEqualTo(405);
    assertThat(r.body()).isEqualTo("Method GET not allowed, POST required.");
    assertThat(context.hcFailed).isFalse();
  }

  @Test
  void unknownPathListsCommands() throws Exception {
    HttpResponse<String> r = get("/nope?x=1");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).startsWith("invalid path. admin commands are:\n  /: Admin home page\n");
    assertThat(r.body()).isEqualTo("invalid path. " + get("/help").body());
  }

  @Test
  void help() throws Exception {
    HttpResponse<String> r = get("/help");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains(
        "  /clusters: upstream cluster status\n"
            + "  /config_dump: dump current Envoy configs (experimental)\n"
            + "      resource: The resource to dump\n",
        "  /healthcheck/fail (POST): cause the server to fail health checks\n",
        "  /listeners: print listener info\n"
            + "      format: File format to use; One of (text, json)\n",
        "  /logging (POST): query/change logging levels\n"
            + "      level: desired logging level; One of (, trace, debug, info, warning, error,"
            + " critical, off)\n",
        "  /quitquitquit (POST): exit the server\n",
        "  /stats/prometheus: print server stats in prometheus format\n");
    assertThat(get("/").body()).contains("<a href='/stats'>stats</a>");
    assertThat(contentType(get("/"))).isEqualTo("text/html; charset=UTF-8");
  }

  @Test
  void statsText() throws Exception {
    HttpResponse<String> r = get("/stats");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("""
        cluster.backend.upstream_rq_2xx: 3
        http.ingress_http.downstream_rq_total: 5
        server.live: 1
        cluster.backend.upstream_rq_time: P0(nan,4) P25(nan,4) P50(nan,4) P75(nan,4) \
        P90(nan,4) P95(nan,4) P99(nan,4) P99.5(nan,4) P99.9(nan,4) P100(nan,4)
        """);
    assertThat(get("/stats?filter=live&usedonly").body()).isEqualTo("server.live: 1\n");
    assertThat(get("/stats?type=Counters&filter=cluster").body())
        .isEqualTo("cluster.backend.upstream_rq_2xx: 3\n");
  }

  @Test
  void statsErrors() throws Exception {
    HttpResponse<String> regex = get("/stats?filter=a(");
    assertThat(regex.statusCode()).isEqualTo(400);
    assertThat(regex.body()).isEqualTo("Invalid re2 regex");
    HttpResponse<String> type = get("/stats?type=Bogus");
    assertThat(type.statusCode()).isEqualTo(400);
    assertThat(type.body()).isEqualTo("invalid &type= param");
    HttpResponse<String> format = get("/stats?format=xml");
    assertThat(format.statusCode()).isEqualTo(400);
    assertThat(format.body()).isEqualTo("usage: /stats?format=(html|active-html|json|prometheus|text)\n\n");
  }

  @Test
  void statsJson() throws Exception {
    HttpResponse<String> r = get("/stats?format=json&filter=server");
    assertThat(contentType(r)).isEqualTo("application/json");
    assertThat(r.body()).isEqualTo("{\"stats\":[{\"name\":\"server.live\",\"value\":1}]}");
  }

  @Test
  void prometheus() throws Exception {
    HttpResponse<String> r = get("/stats/prometheus?filter=upstream_rq_2xx%7Cdownstream_rq_total");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("""
        # TYPE envoy_cluster_upstream_rq_xx counter
        envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="backend"} 3
        # TYPE envoy_http_downstream_rq_total counter
        envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 5
        """);
    assertThat(get("/stats?format=prometheus&filter=server").body())
        .isEqualTo("# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n");
  }

  @Test
  void serverInfo() throws Exception {
    HttpResponse<String> r = get("/server_info");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(contentType(r)).isEqualTo("application/json");
    String body = r.body();
    assertThat(body).startsWith("{\n \"version\": \"legate/0.1.0\",\n \"state\": \"LIVE\",\n"
        + " \"uptime_current_epoch\": \"123s\",\n \"uptime_all_epochs\": \"456s\",\n"
        + " \"hot_restart_version\": \"disabled\",\n");
    assertThat(body).contains(
        "\n \"node\": {\n  \"id\": \"node-1\",\n  \"cluster\": \"front\",\n",
        " \"command_line_options\": {\n",
        "  \"concurrency\": 2,\n",
        "  \"config_path\": \"/etc/envoy.yaml\",\n",
        "  \"log_level\": \"info\",\n",
        "  \"mode\": \"Serve\",\n",
        "  \"drain_time\": \"600s\",\n",
        "  \"disabled_extensions\": [],\n");
    assertThat(body).doesNotContain("no_such_option");
  }

  @Test
  void clustersText() throws Exception {
    HttpResponse<String> r = get("/clusters");
    assertThat(r.body()).isEqualTo("""
        backend::observability_name::backend
        backend::default_priority::max_connections::1024
        backend::default_priority::max_pending_requests::1024
        backend::default_priority::max_requests::1024
        backend::default_priority::max_retries::3
        backend::high_priority::max_connections::1024
        backend::high_priority::max_pending_requests::1024
        backend::high_priority::max_requests::1024
        backend::high_priority::max_retries::3
        backend::added_via_api::false
        backend::127.0.0.1:8080::cx_active::1
        backend::127.0.0.1:8080::cx_connect_fail::2
        backend::127.0.0.1:8080::cx_total::5
        backend::127.0.0.1:8080::rq_active::0
        backend::127.0.0.1:8080::rq_error::1
        backend::127.0.0.1:8080::rq_success::6
        backend::127.0.0.1:8080::rq_timeout::0
        backend::127.0.0.1:8080::rq_total::7
        backend::127.0.0.1:8080::hostname::
        backend::127.0.0.1:8080::health_flags::healthy
        backend::127.0.0.1:8080::weight::1
        backend::127.0.0.1:8080::region::
        backend::127.0.0.1:8080::zone::
        backend::127.0.0.1:8080::sub_zone::
        backend::127.0.0.1:8080::canary::false
        backend::127.0.0.1:8080::priority::0
        backend::127.0.0.1:8080::success_rate::-1
        backend::127.0.0.1:8080::local_origin_success_rate::-1
        backend::127.0.0.2:8080::cx_active::0
        backend::127.0.0.2:8080::cx_connect_fail::0
        backend::127.0.0.2:8080::cx_total::0
        backend::127.0.0.2:8080::rq_active::0
        backend::127.0.0.2:8080::rq_error::0
        backend::127.0.0.2:8080::rq_success::0
        backend::127.0.0.2:8080::rq_timeout::0
        backend::127.0.0.2:8080::rq_total::0
        backend::127.0.0.2:8080::hostname::b.example
        backend::127.0.0.2:8080::health_flags::/failed_active_hc
        backend::127.0.0.2:8080::weight::2
        backend::127.0.0.2:8080::region::
        backend::127.0.0.2:8080::zone::z1
        backend::127.0.0.2:8080::sub_zone::
        backend::127.0.0.2:8080::canary::false
        backend::127.0.0.2:8080::priority::1
        backend::127.0.0.2:8080::success_rate::-1
        backend::127.0.0.2:8080::local_origin_success_rate::-1
        """);
  }

  @Test
  void clustersJson() throws Exception {
    HttpResponse<String> r = get("/clusters?format=json");
    assertThat(contentType(r)).isEqualTo("application/json");
    String body = r.body();
    assertThat(body).startsWith("{\n \"cluster_statuses\": [\n  {\n   \"name\": \"backend\",\n");
    assertThat(body).contains(
        "      \"socket_address\": {\n       \"address\": \"127.0.0.1\",\n"
            + "       \"port_value\": 8080\n      }\n",
        "       \"type\": \"GAUGE\",\n       \"value\": \"1\",\n       \"name\": \"cx_active\"\n",
        "      {\n       \"name\": \"rq_timeout\"\n      },\n",
        "     \"health_status\": {\n      \"eds_health_status\": \"HEALTHY\"\n     },\n",
        "      \"failed_active_health_check\": true,\n",
        "      \"priority\": \"HIGH\",\n",
        "     \"max_retries\": 3\n");
  }

  @Test
  void listeners() throws Exception {
    assertThat(get("/listeners").body())
        .isEqualTo("listener_0::0.0.0.0:10000\nv6::[::1]:10001\n");
    assertThat(get("/listeners?format=json").body()).isEqualTo("""
        {
         "listener_statuses": [
          {
           "name": "listener_0",
           "local_address": {
            "socket_address": {
             "address": "0.0.0.0",
             "port_value": 10000
            }
           }
          },
          {
           "name": "v6",
           "local_address": {
            "socket_address": {
             "address": "::1",
             "port_value": 10001
            }
           }
          }
         ]
        }""");
  }

  @Test
  void configDump() throws Exception {
    HttpResponse<String> r = get("/config_dump");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(contentType(r)).isEqualTo("application/json");
    assertThat(r.body()).isEqualTo("""
        {
         "configs": [
          {
           "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
           "bootstrap": {
            "node": {
             "id": "node-1",
             "cluster": "front"
            }
           }
          },
          {
           "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
           "static_clusters": [
            {
             "cluster": {
              "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
              "name": "backend",
              "alt_stat_name": "alt"
             }
            }
           ]
          }
         ]
        }""");
  }

  @Test
  void configDumpResourceAndMask() throws Exception {
    assertThat(get("/config_dump?resource=static_clusters&mask=cluster.name").body())
        .isEqualTo("""
            {
             "configs": [
              {
               "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster",
               "cluster": {
                "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                "name": "backend"
               }
              }
             ]
            }""");
    HttpResponse<String> missing = get("/config_dump?resource=nothing");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).isEqualTo("nothing not found in config dump");
    HttpResponse<String> notRepeated = get("/config_dump?resource=bootstrap");
    assertThat(notRepeated.statusCode()).isEqualTo(400);
    assertThat(notRepeated.body())
        .isEqualTo("bootstrap is not a repeated field. Use ?mask=bootstrap to get only this field");
  }

  @Test
  void logging() throws Exception {
    HttpResponse<String> ok = post("/logging?level=debug");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).isEqualTo("active loggers:\n  admin: info\n\n");
    assertThat(context.levels).containsExactly("debug");

    HttpResponse<String> bad = post("/logging?level=loud");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).isEqualTo("""
        error: unknown logger level

        usage: /logging?<name>=<level> (change single level)
        usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)
        usage: /logging?level=<level> (change all levels)
        levels: trace debug info warning error critical off \n\
        active loggers:
          admin: info

        """);
    assertThat(get("/logging?level=debug").statusCode()).isEqualTo(405);
  }

  @Test
  void miscEndpoints() throws Exception {
    assertThat(get("/runtime").body()).isEqualTo("{\n \"entries\": {},\n \"layers\": []\n}");
    assertThat(get("/memory").body()).startsWith("{\n \"allocated\": \"");
    assertThat(get("/hot_restart_version").body()).isEqualTo("disabled");
    HttpResponse<String> r = get("/stats/recentlookups");
    assertThat(r.body()).isEqualTo(
        "Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n\ntotal: 0\n");
    assertThat(r.headers().firstValue("cache-control")).hasValue("no-cache, max-age=0");
    assertThat(r.headers().firstValue("x-content-type-options")).hasValue("nosniff");
  }

  @Test
  void quitRespondsThenQuits() throws Exception {
    HttpResponse<String> r = post("/quitquitquit");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("OK\n");
    assertThat(context.quit.await(5, TimeUnit.SECONDS)).isTrue();
  }
}

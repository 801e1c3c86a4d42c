package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** envoy.filters.http.grpc_stats in a whole server: per-method, allowlisted and cluster-wide counters. */
class GrpcStatsIntegrationTest {
  static final String LISTENER =
      """
        - name: %1$s
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: %1$s
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${LOG_%1$s}
                    log_format:
                      text_format_source:
                        inline_string: "%%REQ(:PATH)%% %%FILTER_STATE(envoy.filters.http.grpc_stats:PLAIN)%% %%FILTER_STATE(envoy.filters.http.grpc_stats)%%\\n"
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: %1$s }
                http_filters:
                - name: envoy.filters.http.grpc_stats
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig
                    %2$s
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
      """;
  static final String CLUSTER =
      """
        - name: %s
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: x
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GRPC} } } }
      """;
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
      %s%s%s
        clusters:
      %s%s%s
      """.formatted(
          LISTENER.formatted("all", "stats_for_all_methods: true\n              emit_filter_state: true\n              replace_dots_in_grpc_service_name: true"),
          LISTENER.formatted("allow", "individual_method_stats_allowlist: { services: [ { name: grpc.testing.SimpleService, method_names: [UnaryRpc] } ] }"),
          LISTENER.formatted("none", "emit_filter_state: false"),
          CLUSTER.formatted("all"), CLUSTER.formatted("allow"), CLUSTER.formatted("none"));

  @TempDir static Path dir;
  static Server grpc;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    grpc = ServerBuilder.forPort(0).addService(new GrpcWebIntegrationTest.Service()).build().start();
    legate = Legate.start(CONFIG, Map.of("GRPC", grpc.getPort(), "LOG_all", dir.resolve("all.log"),
        "LOG_allow", dir.resolve("allow.log"), "LOG_none", dir.resolve("none.log")));
  }

  @AfterAll
  static void stop() throws Exception {
    if (legate != null) {
      legate.close();
    }
    grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** Makes one unary call, one streaming call and one failing streaming call through a listener. */
  static void calls(String listener) throws Exception {
    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", legate.port(listener)).usePlaintext().build();
    try {
      var stub = SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
      stub.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("a").build());
      stub.serverStreamingRpc(SimpleRequest.newBuilder().setRequestMessage("s").build()).forEachRemaining(r -> {});
      assertThatThrownBy(() -> stub.serverStreamingRpc(SimpleRequest.newBuilder().setRequestMessage("fail").build())
          .forEachRemaining(r -> {})).isInstanceOf(StatusRuntimeException.class);
    } finally {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static long stat(String name) {
    return legate.stat(name);
  }

  @Test
  void statsForAllMethodsNameServiceAndMethodAndEmitFilterState() throws Exception {
    calls("all");
    String p = "cluster.all.grpc.grpc_testing_SimpleService.";
    assertThat(stat(p + "UnaryRpc.success")).isEqualTo(1);
    assertThat(stat(p + "UnaryRpc.total")).isEqualTo(1);
    assertThat(stat(p + "UnaryRpc.0")).isEqualTo(1);
    assertThat(stat(p + "UnaryRpc.request_message_count")).isEqualTo(1);
    assertThat(stat(p + "UnaryRpc.response_message_count")).isEqualTo(1);
    assertThat(stat(p + "ServerStreamingRpc.success")).isEqualTo(1);
    assertThat(stat(p + "ServerStreamingRpc.failure")).isEqualTo(1);
    assertThat(stat(p + "ServerStreamingRpc.3")).isEqualTo(1);
    assertThat(stat(p + "ServerStreamingRpc.total")).isEqualTo(2);
    assertThat(stat(p + "ServerStreamingRpc.response_message_count")).isEqualTo(6);
    List<String> log = AccessLogIntegrationTest.waitForLines(dir.resolve("all.log"), 3);
    assertThat(log).containsExactly(
        "/grpc.testing.SimpleService/UnaryRpc 1,1 {\"request_message_count\":\"1\",\"response_message_count\":\"1\"}",
        "/grpc.testing.SimpleService/ServerStreamingRpc 1,3 {\"request_message_count\":\"1\",\"response_message_count\":\"3\"}",
        "/grpc.testing.SimpleService/ServerStreamingRpc 1,3 {\"request_message_count\":\"1\",\"response_message_count\":\"3\"}");
  }

  @Test
  void anAllowlistNamesOnlyTheListedMethods() throws Exception {
    calls("allow");
    assertThat(stat("cluster.allow.grpc.grpc.testing.SimpleService.UnaryRpc.success")).isEqualTo(1);
    assertThat(stat("cluster.allow.grpc.grpc.testing.SimpleService.ServerStreamingRpc.total")).isEqualTo(-1);
    assertThat(stat("cluster.allow.grpc.success")).isEqualTo(1);
    assertThat(stat("cluster.allow.grpc.failure")).isEqualTo(1);
    assertThat(stat("cluster.allow.grpc.total")).isEqualTo(2);
  }

  @Test
  void byDefaultCallsAreCountedClusterWideWithoutFilterState() throws Exception {
    calls("none");
    assertThat(stat("cluster.none.grpc.success")).isEqualTo(2);
    assertThat(stat("cluster.none.grpc.failure")).isEqualTo(1);
    assertThat(stat("cluster.none.grpc.total")).isEqualTo(3);
    assertThat(stat("cluster.none.grpc.request_message_count")).isEqualTo(3);
    assertThat(stat("cluster.none.grpc.response_message_count")).isEqualTo(7);
    assertThat(AccessLogIntegrationTest.waitForLines(dir.resolve("none.log"), 3))
        .allSatisfy(l -> assertThat(l).endsWith(" - -"));
  }

  @Test
  void upstreamStatsAreRefusedByName() {
    String bad = CONFIG.replace("emit_filter_state: false", "enable_upstream_stats: true");
    assertThatThrownBy(() -> Legate.start(bad, Map.of("GRPC", 1, "LOG_all", dir.resolve("x"),
            "LOG_allow", dir.resolve("y"), "LOG_none", dir.resolve("z"))))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("http_filters[0].typed_config.enable_upstream_stats: upstream request time histograms are not supported");
  }
}

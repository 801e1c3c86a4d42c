package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;
import io.opentelemetry.proto.collector.logs.v1.LogsServiceGrpc;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.logs.v1.LogRecord;
import io.opentelemetry.proto.logs.v1.ResourceLogs;
import io.opentelemetry.proto.logs.v1.ScopeLogs;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code envoy.access_loggers.open_telemetry}: log records reach a real OTLP/gRPC LogsService
 * registered as a Legate cluster, with the formatted body and attributes and the resource's labels.
 */
class OpenTelemetryAccessLogIntegrationTest {
  static final String CONFIG =
      """
      node: { id: node-7, cluster: edge, locality: { zone: zone-a } }
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
                - name: envoy.access_loggers.open_telemetry
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig
                    common_config:
                      log_name: otel_log
                      transport_api_version: V3
                      buffer_flush_interval: 0.1s
                      grpc_service: { envoy_grpc: { cluster_name: collector }, timeout: 1s }
                    resource_attributes:
                      values:
                      - key: service.name
                        value: { string_value: front-envoy }
                      - key: replicas
                        value: { int_value: 3 }
                    body: { string_value: "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE%" }
                    attributes:
                      values:
                      - key: url.path
                        value: { string_value: "%REQ(:PATH)%" }
                      - key: http.response.status_code
                        value: { string_value: "%RESPONSE_CODE%" }
                      - key: user_agent
                        value: { string_value: "%REQ(USER-AGENT)%" }
                      - key: flags
                        value: { string_value: "%RESPONSE_FLAGS%" }
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/up" }
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
        - name: collector
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: collector
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${COLLECTOR} } } }
      """;

  /** A received record with its resource's attributes. */
  record Received(Map<String, String> resource, LogRecord record) {
    Map<String, String> attributes() {
      return strings(record.getAttributesList());
    }
  }

  static Map<String, String> strings(List<KeyValue> kvs) {
    Map<String, String> m = new TreeMap<>();
    for (KeyValue kv : kvs) {
      AnyValue v = kv.getValue();
      m.put(kv.getKey(), v.hasIntValue() ? Long.toString(v.getIntValue()) : v.getStringValue());
    }
    return m;
  }

  /** A real OTLP/gRPC logs collector. */
  static final class Collector implements AutoCloseable {
    final List<Received> records = new CopyOnWriteArrayList<>();
    final Server server;

    Collector() throws Exception {
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(new LogsServiceGrpc.LogsServiceImplBase() {
            @Override
            public void export(ExportLogsServiceRequest request, StreamObserver<ExportLogsServiceResponse> out) {
              for (ResourceLogs rl : request.getResourceLogsList()) {
                Map<String, String> resource = strings(rl.getResource().getAttributesList());
                for (ScopeLogs sl : rl.getScopeLogsList()) {
                  for (LogRecord r : sl.getLogRecordsList()) {
                    records.add(new Received(resource, r));
                  }
                }
              }
              out.onNext(ExportLogsServiceResponse.getDefaultInstance());
              out.onCompleted();
            }
          })
          .build()
          .start();
    }

    int port() {
      return server.getPort();
    }

    List<Received> await(int n) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (records.size() < n && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      return List.copyOf(records);
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void recordsCarryTheFormattedBodyAndAttributes() throws Exception {
    try (TestUpstream up = new TestUpstream("up");
        Collector collector = new Collector();
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "COLLECTOR", collector.port()))) {
      long before = System.currentTimeMillis();
      assertThat(l.get("front", "/up/a", "user-agent", "tester").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/missing").statusCode()).isEqualTo(404);
      List<Received> got = collector.await(2);
      assertThat(got).hasSize(2);
      Received ok = got.stream().filter(r -> r.attributes().get("url.path").equals("/up/a")).findFirst().orElseThrow();
      Received nr = got.stream().filter(r -> r.attributes().get("url.path").equals("/missing")).findFirst().orElseThrow();
      assertThat(ok.record().getBody().getStringValue()).isEqualTo("GET /up/a 200");
      assertThat(ok.attributes())
          .containsExactlyEntriesOf(new TreeMap<>(Map.of(
              "url.path", "/up/a", "http.response.status_code", "200", "user_agent", "tester", "flags", "-")));
      assertThat(nr.record().getBody().getStringValue()).isEqualTo("GET /missing 404");
      assertThat(nr.attributes()).containsEntry("flags", "NR").containsEntry("http.response.status_code", "404");
      assertThat(ok.resource())
          .containsEntry("service.name", "front-envoy")
          .containsEntry("replicas", "3")
          .containsEntry("log_name", "otel_log")
          .containsEntry("zone_name", "zone-a")
          .containsEntry("cluster_name", "edge")
          .containsEntry("node_name", "node-7");
      long ts = TimeUnit.NANOSECONDS.toMillis(ok.record().getTimeUnixNano());
      assertThat(ts).isBetween(before, System.currentTimeMillis());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (l.stat("access_logs.open_telemetry_access_log.logs_written") < 2 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(l.stat("access_logs.open_telemetry_access_log.logs_written")).isEqualTo(2);
    }
  }

  @Test
  void unsupportedValuesAreRefusedWithTheFieldPath() {
    String yaml = CONFIG.replace("body: { string_value: \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE%\" }",
        "body: { int_value: 1 }");
    assertThatThrownBy(() -> Legate.start(yaml, Map.of("UP", 1, "COLLECTOR", 2)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[0].typed_config.body:"
            + " only string_value is supported yet (got INT_VALUE)");
  }
}

package io.legate.upstream.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.legate.config.ConfigException;
import org.junit.jupiter.api.Test;

class HealthCheckConfigTest {
  static Cluster cluster(String yaml) {
    Cluster.Builder b = Cluster.newBuilder();
    try {
      JsonFormat.parser().merge(new Gson().toJson((Object) new org.yaml.snakeyaml.Yaml().load(yaml)), b);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(e);
    }
    return b.build();
  }

  static HealthCheckConfig parse(String healthCheckYaml, boolean http2) {
    return HealthCheckConfig.fromCluster(
        cluster("name: svc\nhealth_checks:\n- " + healthCheckYaml), "clusters[1]", http2);
  }

  static final String BASE = "{ timeout: 1s, interval: 2s, unhealthy_threshold: 3, healthy_threshold: 2, ";

  @Test
  void envoyDefaults() {
    HealthCheckConfig c = parse(BASE + "http_health_check: { path: /hc } }", false);
    assertThat(c.type()).isEqualTo(HealthCheckConfig.Type.HTTP);
    assertThat(c.timeoutMs()).isEqualTo(1000);
    assertThat(c.intervalMs()).isEqualTo(2000);
    assertThat(c.noTrafficIntervalMs()).isEqualTo(60_000);
    assertThat(c.noTrafficHealthyIntervalMs()).isEqualTo(60_000);
    assertThat(c.unhealthyIntervalMs()).isEqualTo(2000);
    assertThat(c.unhealthyEdgeIntervalMs()).isEqualTo(2000);
    assertThat(c.healthyEdgeIntervalMs()).isEqualTo(2000);
    assertThat(c.reuseConnection()).isTrue();
    assertThat(c.http().method()).isEqualTo("GET");
    assertThat(c.http().host()).isEmpty();
    assertThat(c.http().expected(200)).isTrue();
    assertThat(c.http().expected(201)).isFalse();
    assertThat(c.http().retriable(503)).isFalse();
  }

  @Test
  void statusRangesAreHalfOpen() {
    HealthCheckConfig c = parse(BASE + "http_health_check: { path: /hc, expected_statuses: [{start: 200, end: 300}],"
        + " retriable_statuses: [{start: 503, end: 504}] } }", false);
    assertThat(c.http().expected(299)).isTrue();
    assertThat(c.http().expected(300)).isFalse();
    assertThat(c.http().retriable(503)).isTrue();
  }

  @Test
  void noHealthChecksIsNull() {
    assertThat(HealthCheckConfig.fromCluster(cluster("name: svc"), "c", false)).isNull();
  }

  @Test
  void errorsNameTheField() {
    assertThatThrownBy(() -> HealthCheckConfig.fromCluster(cluster(
            "name: svc\nhealth_checks:\n- " + BASE + "tcp_health_check: {} }\n- " + BASE + "tcp_health_check: {} }"),
            "clusters[1]", false))
        .isInstanceOf(ConfigException.class)
        .hasMessage("clusters[1].health_checks: Multiple health checks not supported");
    assertThatThrownBy(() -> parse("{ interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }", false))
        .hasMessage("clusters[1].health_checks[0].timeout: value is required");
    assertThatThrownBy(() -> parse("{ timeout: 1s, interval: 1s, healthy_threshold: 1, tcp_health_check: {} }", false))
        .hasMessage("clusters[1].health_checks[0].unhealthy_threshold: value is required");
    assertThatThrownBy(() -> parse(BASE + "no_traffic_interval: 0s, tcp_health_check: {} }", false))
        .hasMessage("clusters[1].health_checks[0].no_traffic_interval: value must be greater than 0s");
    assertThatThrownBy(() -> parse("{ timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1 }", false))
        .hasMessage("clusters[1].health_checks[0].health_checker: value is required");
    assertThatThrownBy(() -> parse(BASE + "tcp_health_check: { send: { text: 'zz' } } }", false))
        .hasMessage("clusters[1].health_checks[0].tcp_health_check.send.text: invalid hex string 'zz'");
    assertThatThrownBy(() -> parse(BASE + "http_health_check: { path: /hc, expected_statuses: [{start: 300, end: 200}] } }", false))
        .hasMessage("clusters[1].health_checks[0].http_health_check.expected_statuses[0]: Invalid http expected"
            + " status range: expecting start < end, but found start=300 and end=200");
    assertThatThrownBy(() -> parse(BASE + "http_health_check: { path: /hc, retriable_statuses: [{start: 500, end: 601}] } }", false))
        .hasMessage("clusters[1].health_checks[0].http_health_check.retriable_statuses[0]: Invalid http retriable"
            + " status range: expecting end <= 600, but found end=601");
    assertThatThrownBy(() -> parse(BASE + "http_health_check: { path: /hc, send: { text: '00' } } }", false))
        .hasMessage("clusters[1].health_checks[0].http_health_check.send: HTTP health check cannot specify a"
            + " request payload with method 'GET'. Only methods that support a request body (POST, PUT, PATCH,"
            + " OPTIONS) can be used with payload.");
    assertThatThrownBy(() -> parse(BASE + "grpc_health_check: {} }", false))
        .hasMessage("clusters[1].health_checks[0].grpc_health_check: svc cluster must support HTTP/2 for gRPC"
            + " healthchecking");
    assertThatThrownBy(() -> parse(BASE + "custom_health_check: { name: envoy.health_checkers.redis } }", false))
        .hasMessage("clusters[1].health_checks[0].custom_health_check: unsupported health checker"
            + " 'envoy.health_checkers.redis'");
    assertThatThrownBy(() -> parse(BASE + "http_health_check: { path: /hc, codec_client_type: HTTP3 } }", false))
        .hasMessage("clusters[1].health_checks[0].http_health_check.codec_client_type: unsupported codec HTTP3");
    assertThatThrownBy(() -> parse(BASE + "http_health_check: { path: /hc, request_headers_to_add:"
            + " [{ header: { key: x-a, value: '%HOSTNAME%' } }] } }", false))
        .hasMessage("clusters[1].health_checks[0].http_health_check.request_headers_to_add[0].header.value:"
            + " format specifiers are not supported in health check headers");
  }

  @Test
  void endpointHealthCheckPortMustBeTheEndpointPort() {
    String yaml = "name: svc\nhealth_checks:\n- " + BASE + "tcp_health_check: {} }\n"
        + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
        + "    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 80 } },"
        + " health_check_config: { port_value: 80 } }\n"
        + "    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 81 } },"
        + " health_check_config: { port_value: 9000 } }\n";
    assertThatThrownBy(() -> HealthCheckConfig.fromCluster(cluster(yaml), "clusters[1]", false))
        .hasMessage("clusters[1].load_assignment.endpoints[0].lb_endpoints[1].endpoint.health_check_config.port_value:"
            + " a health check port other than the endpoint's is not supported; use alt_port");
  }

  @Test
  void grpcRequestAndResponseBytes() {
    assertThat(HttpHealthCheckSession.grpcRequest("")).containsExactly(0, 0, 0, 0, 0);
    assertThat(HttpHealthCheckSession.grpcRequest("ab")).containsExactly(0, 0, 0, 0, 4, 0x0a, 2, 'a', 'b');
    byte[] serving = {0, 0, 0, 0, 2, 0x08, 1};
    assertThat(HttpHealthCheckSession.grpcServingStatus(serving, serving.length)).isEqualTo(1);
    byte[] empty = {0, 0, 0, 0, 0};
    assertThat(HttpHealthCheckSession.grpcServingStatus(empty, empty.length)).isEqualTo(0);
    byte[] compressed = {1, 0, 0, 0, 2, 0x08, 1};
    assertThat(HttpHealthCheckSession.grpcServingStatus(compressed, compressed.length)).isEqualTo(-1);
    byte[] truncated = {0, 0, 0, 0, 3, 0x08, 1};
    assertThat(HttpHealthCheckSession.grpcServingStatus(truncated, truncated.length)).isEqualTo(-1);
  }

  @Test
  void payloadSegmentsMatchInOrder() {
    byte[] data = "xxpongxx".getBytes();
    assertThat(HealthCheckSession.matches(java.util.List.of("po".getBytes(), "ng".getBytes()), data, data.length)).isTrue();
    assertThat(HealthCheckSession.matches(java.util.List.of("ng".getBytes(), "po".getBytes()), data, data.length)).isFalse();
    assertThat(HealthCheckSession.matches(java.util.List.of("pong".getBytes()), data, 5)).isFalse();
  }
}

package io.legate.server;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import org.junit.jupiter.api.Test;

/** stats_sinks, stats_flush_interval, stats_config and http_grpc access logs as --mode validate sees them. */
class StatsBootstrapConfigTest {
  static void validate(String yaml) {
    Server.validate(new Options(null, yaml, "validate", 1, "warning", "", "", 1));
  }

  static final String CLUSTER =
      """
      static_resources:
        clusters:
        - name: statsd
          type: STATIC
          load_assignment:
            cluster_name: statsd
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8125 } } }
      """;

  @Test
  void acceptsEveryKindOfSink() {
    assertThatCode(() -> validate("""
        stats_flush_interval: 2s
        stats_sinks:
        - name: envoy.stat_sinks.statsd
          typed_config:
            "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
            tcp_cluster_name: statsd
        - name: envoy.stat_sinks.statsd
          typed_config:
            "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
            address: { socket_address: { address: 127.0.0.1, port_value: 8125 } }
            prefix: edge
        - name: envoy.stat_sinks.dog_statsd
          typed_config:
            "@type": type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink
            address: { socket_address: { address: 127.0.0.1, port_value: 8125 } }
            max_bytes_per_datagram: 1400
        """ + CLUSTER)).doesNotThrowAnyException();
  }

  @Test
  void refusesAnUnknownTcpCluster() {
    assertThatThrownBy(() -> validate("""
        stats_sinks:
        - name: envoy.stat_sinks.statsd
          typed_config:
            "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
            tcp_cluster_name: nope
        """ + CLUSTER))
        .isInstanceOf(ConfigException.class)
        .hasMessage("stats_sinks[0].typed_config.tcp_cluster_name: unknown cluster 'nope'");
  }

  @Test
  void refusesAnUnsupportedSink() {
    assertThatThrownBy(() -> validate("""
        stats_sinks:
        - name: envoy.stat_sinks.metrics_service
          typed_config:
            "@type": type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig
            grpc_service: { envoy_grpc: { cluster_name: statsd } }
        """ + CLUSTER))
        .isInstanceOf(ConfigException.class)
        .hasMessage("stats_sinks[0].typed_config: unsupported stats sink 'envoy.stat_sinks.metrics_service' "
            + "(type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig); supported: envoy.stat_sinks.statsd, "
            + "envoy.stat_sinks.dog_statsd");
  }

  @Test
  void refusesAFlushIntervalOutOfRange() {
    assertThatThrownBy(() -> validate("stats_flush_interval: 301s\n" + CLUSTER))
        .hasMessage("--config-yaml: stats_flush_interval: value must be inside range [0.001s, 300s)");
  }

  @Test
  void refusesABadStatsMatcher() {
    assertThatThrownBy(() -> validate("""
        stats_config:
          stats_matcher:
            exclusion_list:
              patterns:
              - safe_regex: { regex: "a(" }
        """ + CLUSTER))
        .hasMessage("stats_config.stats_matcher.exclusion_list.patterns[0].safe_regex.regex: invalid regex 'a(': "
            + "Unclosed group");
  }

  @Test
  void refusesAGrpcAccessLogWithoutLogNameOrWithAnUnknownCluster() {
    String listener = """
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
                  - name: envoy.access_loggers.http_grpc
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig
                      common_config:
                        log_name: "%s"
                        transport_api_version: V3
                        grpc_service: { envoy_grpc: { cluster_name: %s } }
                  route_config: {}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
          - name: als
            type: STATIC
            load_assignment: { cluster_name: als }
        """;
    String prefix = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[0].typed_config";
    assertThatCode(() -> validate(listener.formatted("log", "als"))).doesNotThrowAnyException();
    assertThatThrownBy(() -> validate(listener.formatted("log", "nope")))
        .hasMessage(prefix + ".common_config.grpc_service.envoy_grpc.cluster_name: unknown cluster 'nope'");
    assertThatThrownBy(() -> validate(listener.formatted("", "als")))
        .hasMessage("--config-yaml: " + prefix + ".common_config.log_name: value length must be at least 1 characters");
  }
}

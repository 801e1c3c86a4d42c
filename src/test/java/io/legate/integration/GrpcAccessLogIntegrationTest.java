package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.core.v3.RequestMethod;
import io.envoyproxy.envoy.data.accesslog.v3.HTTPAccessLogEntry;
import io.envoyproxy.envoy.service.accesslog.v3.AccessLogServiceGrpc;
import io.envoyproxy.envoy.service.accesslog.v3.StreamAccessLogsMessage;
import io.envoyproxy.envoy.service.accesslog.v3.StreamAccessLogsResponse;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** envoy.access_loggers.http_grpc against a real AccessLogService. */
class GrpcAccessLogIntegrationTest {
  static final String CONFIG =
      """
      node: { id: node-7, cluster: edge }
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
                      log_name: front_log
                      transport_api_version: V3
                      buffer_flush_interval: 0.1s
                      grpc_service: { envoy_grpc: { cluster_name: als } }
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
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: als
          type: STATIC
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: {http2_protocol_options: {}}
          load_assignment:
            cluster_name: als
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${ALS} } } }
      """;

  @Test
  void sendsEntriesWithTheIdentifierOnTheFirstMessage() throws Exception {
    LinkedBlockingQueue<StreamAccessLogsMessage> received = new LinkedBlockingQueue<>();
    Server als = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new AccessLogServiceGrpc.AccessLogServiceImplBase() {
          @Override
          public StreamObserver<StreamAccessLogsMessage> streamAccessLogs(StreamObserver<StreamAccessLogsResponse> out) {
            return new StreamObserver<>() {
              @Override
              public void onNext(StreamAccessLogsMessage m) {
                received.add(m);
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                out.onCompleted();
              }
            };
          }
        })
        .build()
        .start();
    try (TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("UP", up.port(), "ALS", als.getPort()))) {
      assertThat(l.get("front", "/up/a?x=1", "user-agent", "ua-1", "x-request-id", "req-1").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/missing").statusCode()).isEqualTo(404);
      List<StreamAccessLogsMessage> messages = new ArrayList<>();
      List<HTTPAccessLogEntry> entries = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (entries.size() < 2 && System.nanoTime() < deadline) {
        StreamAccessLogsMessage m = received.poll(200, TimeUnit.MILLISECONDS);
        if (m != null) {
          messages.add(m);
          entries.addAll(m.getHttpLogs().getLogEntryList());
        }
      }
      assertThat(entries).hasSize(2);
      assertThat(messages.get(0).getIdentifier().getLogName()).isEqualTo("front_log");
      assertThat(messages.get(0).getIdentifier().getNode().getId()).isEqualTo("node-7");
      assertThat(messages.get(0).getIdentifier().getNode().getCluster()).isEqualTo("edge");
      for (int i = 1; i < messages.size(); i++) {
        assertThat(messages.get(i).hasIdentifier()).isFalse();
      }
      HTTPAccessLogEntry ok = entries.get(0);
      assertThat(ok.getProtocolVersion()).isEqualTo(HTTPAccessLogEntry.HTTPVersion.HTTP11);
      assertThat(ok.getRequest().getRequestMethod()).isEqualTo(RequestMethod.GET);
      assertThat(ok.getRequest().getPath()).isEqualTo("/up/a?x=1");
      assertThat(ok.getRequest().getAuthority()).isEqualTo("127.0.0.1:" + l.port("front"));
      assertThat(ok.getRequest().getUserAgent()).isEqualTo("ua-1");
      assertThat(ok.getRequest().getRequestId()).isEqualTo("req-1");
      assertThat(ok.getResponse().getResponseCode().getValue()).isEqualTo(200);
      assertThat(ok.getCommonProperties().getUpstreamCluster()).isEqualTo("up");
      assertThat(ok.getCommonProperties().getUpstreamRemoteAddress().getSocketAddress().getPortValue()).isEqualTo(up.port());
      assertThat(ok.getCommonProperties().getDownstreamRemoteAddress().getSocketAddress().getAddress()).isEqualTo("127.0.0.1");
      assertThat(ok.getCommonProperties().getDownstreamLocalAddress().getSocketAddress().getPortValue()).isEqualTo(l.port("front"));
      assertThat(ok.getCommonProperties().getStartTime().getSeconds()).isPositive();
      assertThat(ok.getCommonProperties().getResponseFlags().getNoRouteFound()).isFalse();
      HTTPAccessLogEntry missing = entries.get(1);
      assertThat(missing.getResponse().getResponseCode().getValue()).isEqualTo(404);
      assertThat(missing.getCommonProperties().getResponseFlags().getNoRouteFound()).isTrue();
      assertThat(missing.getCommonProperties().getUpstreamCluster()).isEmpty();
    } finally {
      als.shutdownNow();
    }
  }
}

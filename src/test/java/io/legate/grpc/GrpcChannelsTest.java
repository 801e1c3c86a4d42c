package io.legate.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GrpcChannelsTest {
  private static final String YAML =
      """
      static_resources:
        clusters:
        - name: svc
          type: STATIC
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: {http2_protocol_options: {}}
          load_assignment:
            cluster_name: svc
            endpoints:
            - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${port}}}}
        - name: empty
          type: STATIC
          load_assignment: {cluster_name: empty}
      """;

  private static Server echoServer(String name) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(
            new SimpleServiceGrpc.SimpleServiceImplBase() {
              @Override
              public void unaryRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
                out.onNext(SimpleResponse.newBuilder().setResponseMessage(name + ":" + req.getRequestMessage()).build());
                out.onCompleted();
              }
            })
        .build()
        .start();
  }

  @Test
  void callsTheHostsOfAnEnvoyGrpcCluster() throws Exception {
    Server upstream = echoServer("a");
    try (Legate legate = Legate.start(YAML, Map.of("port", upstream.getPort()))) {
      GrpcChannels channels = legate.server().clusterManager().grpcChannels();
      GrpcService svc = GrpcService.newBuilder().setEnvoyGrpc(GrpcService.EnvoyGrpc.newBuilder().setClusterName("svc")).build();
      SimpleResponse r =
          SimpleServiceGrpc.newBlockingStub(channels.channel(svc))
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .unaryRpc(SimpleRequest.newBuilder().setRequestMessage("hi").build());
      assertThat(r.getResponseMessage()).isEqualTo("a:hi");
      assertThat(channels.channel(svc)).isSameAs(channels.channel(svc));

      GrpcService none = GrpcService.newBuilder().setEnvoyGrpc(GrpcService.EnvoyGrpc.newBuilder().setClusterName("empty")).build();
      assertThatThrownBy(
              () ->
                  SimpleServiceGrpc.newBlockingStub(channels.channel(none))
                      .withDeadlineAfter(2, TimeUnit.SECONDS)
                      .unaryRpc(SimpleRequest.getDefaultInstance()))
          .isInstanceOf(StatusRuntimeException.class)
          .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode()).isIn(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED));

      assertThatThrownBy(
              () ->
                  GrpcChannels.validate(
                      GrpcService.newBuilder().setEnvoyGrpc(GrpcService.EnvoyGrpc.newBuilder().setClusterName("nope")).build(),
                      "http_filters[0].typed_config.grpc_service",
                      legate.server().clusterManager()))
          .isInstanceOf(ConfigException.class)
          .hasMessage("http_filters[0].typed_config.grpc_service.envoy_grpc.cluster_name: unknown cluster 'nope'");
    } finally {
      upstream.shutdownNow();
    }
  }
}

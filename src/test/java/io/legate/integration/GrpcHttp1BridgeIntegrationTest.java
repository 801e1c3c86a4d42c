package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.legate.testing.Legate;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.grpc_http1_bridge in a whole server: HTTP/1.1 clients calling a grpc-java server. */
class GrpcHttp1BridgeIntegrationTest {
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
                codec_type: AUTO
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/", grpc: {} }
                      route: { cluster: grpc }
                    - match: { prefix: "/" }
                      direct_response: { status: 415, body: { inline_string: "not grpc" } }
                http_filters:
                - name: envoy.filters.http.grpc_http1_bridge
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config
                    %2$s
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
      """;
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
      %s%s
        clusters:
        - name: grpc
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: grpc
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GRPC} } } }
      """.formatted(
          LISTENER.formatted("bridge", "upgrade_protobuf_to_grpc: false"),
          LISTENER.formatted("upgrade", "upgrade_protobuf_to_grpc: true\n              ignore_query_parameters: true"));
  static final String UNARY = "/grpc.testing.SimpleService/UnaryRpc";
  static final String STREAMING = "/grpc.testing.SimpleService/ServerStreamingRpc";

  static Server grpc;
  static Legate legate;
  static final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    grpc = ServerBuilder.forPort(0).addService(new GrpcWebIntegrationTest.Service()).build().start();
    legate = Legate.start(CONFIG, Map.of("GRPC", grpc.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (legate != null) {
      legate.close();
    }
    grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  static HttpResponse<byte[]> post(String listener, String path, String contentType, byte[] body) throws Exception {
    HttpRequest r = HttpRequest.newBuilder(legate.uri(listener, path)).timeout(Duration.ofSeconds(20))
        .header("content-type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    return client.sendAsync(r, HttpResponse.BodyHandlers.ofByteArray()).get(30, TimeUnit.SECONDS);
  }

  static List<SimpleResponse> messages(byte[] body) throws Exception {
    List<SimpleResponse> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(body);
    while (b.hasRemaining()) {
      assertThat(b.get()).isEqualTo((byte) 0);
      byte[] m = new byte[b.getInt()];
      b.get(m);
      out.add(SimpleResponse.parseFrom(m));
    }
    return out;
  }

  @Test
  void unaryOkCarriesGrpcStatusAsAHeader() throws Exception {
    HttpResponse<byte[]> r = post("bridge", UNARY, "application/grpc", GrpcWebIntegrationTest.frame("world"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("0");
    assertThat(r.headers().firstValue("content-length")).hasValue(Integer.toString(r.body().length));
    assertThat(r.headers().firstValue("transfer-encoding")).isEmpty();
    assertThat(messages(r.body())).extracting(SimpleResponse::getResponseMessage).containsExactly("hello world");
  }

  @Test
  void anErrorAfterMessagesIs503WithTheBufferedBody() throws Exception {
    HttpResponse<byte[]> r = post("bridge", STREAMING, "application/grpc", GrpcWebIntegrationTest.frame("fail"));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("3");
    assertThat(r.headers().firstValue("grpc-message")).hasValue("bad thing %C3%A9");
    assertThat(messages(r.body())).extracting(SimpleResponse::getResponseMessage).containsExactly("fail0", "fail1", "fail2");
  }

  @Test
  void aTrailersOnlyErrorIs503() throws Exception {
    HttpResponse<byte[]> r = post("bridge", UNARY, "application/grpc", GrpcWebIntegrationTest.frame("fail"));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("5");
    assertThat(r.headers().firstValue("grpc-message")).hasValue("no such thing");
    assertThat(r.body()).isEmpty();
  }

  @Test
  void protobufIsNotUpgradedUnlessConfigured() throws Exception {
    byte[] proto = SimpleRequest.newBuilder().setRequestMessage("p").build().toByteArray();
    HttpResponse<byte[]> r = post("bridge", UNARY, "application/x-protobuf", proto);
    assertThat(r.statusCode()).isEqualTo(415);
  }

  @Test
  void protobufRequestsAreUpgradedAndTheQueryDropped() throws Exception {
    byte[] proto = SimpleRequest.newBuilder().setRequestMessage("p").build().toByteArray();
    HttpResponse<byte[]> r = post("upgrade", UNARY + "?trace=1", "application/x-protobuf", proto);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("0");
    assertThat(SimpleResponse.parseFrom(r.body()).getResponseMessage()).isEqualTo("hello p");
  }

  @Test
  void http2GrpcClientsPassThrough() throws Exception {
    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", legate.port("bridge")).usePlaintext().build();
    try {
      var stub = SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
      assertThat(stub.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("h2").build()).getResponseMessage())
          .isEqualTo("hello h2");
      try {
        stub.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("fail").build());
        throw new AssertionError("expected NOT_FOUND");
      } catch (StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      }
    } finally {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}

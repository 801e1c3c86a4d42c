package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** HTTP/2 downstream (prior knowledge), protocol translation both ways, and gRPC end to end. */
class Http2AndGrpcIntegrationTest {
  static final String CONFIG =
      """
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
                codec_type: AUTO
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/grpc.testing.SimpleService/", grpc: {} }
                      route: { cluster: grpc_backend }
                    - match: { prefix: "/grpc.testing.SimpleService/" }
                      direct_response: { status: 415 }
                    - match: { prefix: "/h1/" }
                      route: { cluster: h1_backend, prefix_rewrite: "/" }
                    - match: { prefix: "/h2up/" }
                      route: { cluster: h2_backend, prefix_rewrite: "/" }
                    - match: { prefix: "/h2small/" }
                      route: { cluster: h2_small_headers, prefix_rewrite: "/" }
                    - match: { prefix: "/nope" }
                      route: { cluster: grpc_missing }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: grpc_backend
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: grpc_backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GRPC} } } }
        - name: grpc_missing
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: grpc_missing }
        - name: h1_backend
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: h1_backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${H1} } } }
        - name: h2_backend
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: h2_backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${H1} } } }
        - name: h2_small_headers
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              common_http_protocol_options: { max_response_headers_kb: 1 }
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: h2_small_headers
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${H1} } } }
      """;

  static Server grpc;
  static TestUpstream h1;
  static Legate legate;
  static ManagedChannel channel;

  static final class Service extends SimpleServiceGrpc.SimpleServiceImplBase {
    @Override
    public void unaryRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
      if (req.getRequestMessage().equals("fail")) {
        out.onError(Status.NOT_FOUND.withDescription("no such thing").asRuntimeException());
        return;
      }
      out.onNext(SimpleResponse.newBuilder().setResponseMessage("hello " + req.getRequestMessage()).build());
      out.onCompleted();
    }

    @Override
    public void serverStreamingRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
      for (int i = 0; i < 5; i++) {
        out.onNext(SimpleResponse.newBuilder().setResponseMessage(req.getRequestMessage() + i).build());
      }
      out.onCompleted();
    }

    @Override
    public StreamObserver<SimpleRequest> clientStreamingRpc(StreamObserver<SimpleResponse> out) {
      StringBuilder sb = new StringBuilder();
      return new StreamObserver<>() {
        @Override
        public void onNext(SimpleRequest r) {
          sb.append(r.getRequestMessage());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onNext(SimpleResponse.newBuilder().setResponseMessage(sb.toString()).build());
          out.onCompleted();
        }
      };
    }

    @Override
    public StreamObserver<SimpleRequest> bidiStreamingRpc(StreamObserver<SimpleResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SimpleRequest r) {
          out.onNext(SimpleResponse.newBuilder().setResponseMessage("echo " + r.getRequestMessage()).build());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }
  }

  @BeforeAll
  static void start() throws Exception {
    grpc = ServerBuilder.forPort(0).addService(new Service()).build().start();
    h1 = new TestUpstream("h1");
    legate = Legate.start(CONFIG, Map.of("GRPC", grpc.getPort(), "H1", h1.port()));
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", legate.port("front")).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    legate.close();
    grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    h1.close();
  }

  @Test
  void grpcUnary() {
    SimpleResponse r =
        SimpleServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .unaryRpc(SimpleRequest.newBuilder().setRequestMessage("world").build());
    assertThat(r.getResponseMessage()).isEqualTo("hello world");
  }

  @Test
  void grpcErrorStatusTravelsInTrailers() {
    assertThatThrownBy(
            () ->
                SimpleServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .unaryRpc(SimpleRequest.newBuilder().setRequestMessage("fail").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
              assertThat(e.getStatus().getDescription()).isEqualTo("no such thing");
            });
  }

  @Test
  void grpcServerStreaming() {
    Iterator<SimpleResponse> it =
        SimpleServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .serverStreamingRpc(SimpleRequest.newBuilder().setRequestMessage("m").build());
    List<String> got = new ArrayList<>();
    it.forEachRemaining(r -> got.add(r.getResponseMessage()));
    assertThat(got).containsExactly("m0", "m1", "m2", "m3", "m4");
  }

  @Test
  void grpcServerStreamingThroughASmallClientWindowKeepsTrailersAfterTheData() {
    // 5 x 20 KB of messages against a 1 KiB client window: the proxy queues the DATA for window and
    // must send the trailers (grpc-status) only after all of it; early trailers lose messages.
    ManagedChannel small =
        io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", legate.port("front"))
            .usePlaintext()
            .flowControlWindow(1024)
            .build();
    try {
      String big = "x".repeat(20_000);
      Iterator<SimpleResponse> it =
          SimpleServiceGrpc.newBlockingStub(small)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .serverStreamingRpc(SimpleRequest.newBuilder().setRequestMessage(big).build());
      List<String> got = new ArrayList<>();
      it.forEachRemaining(r -> got.add(r.getResponseMessage()));
      assertThat(got).containsExactly(big + 0, big + 1, big + 2, big + 3, big + 4);
    } finally {
      small.shutdownNow();
    }
  }

  @Test
  void grpcClientAndBidiStreaming() throws Exception {
    CompletableFuture<String> done = new CompletableFuture<>();
    StreamObserver<SimpleRequest> req =
        SimpleServiceGrpc.newStub(channel)
            .clientStreamingRpc(
                new StreamObserver<>() {
                  @Override
                  public void onNext(SimpleResponse r) {
                    done.complete(r.getResponseMessage());
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    for (String s : List.of("a", "b", "c")) {
      req.onNext(SimpleRequest.newBuilder().setRequestMessage(s).build());
    }
    req.onCompleted();
    assertThat(done.get(10, TimeUnit.SECONDS)).isEqualTo("abc");

    List<String> echoes = new ArrayList<>();
    CompletableFuture<Void> finished = new CompletableFuture<>();
    StreamObserver<SimpleRequest> bidi =
        SimpleServiceGrpc.newStub(channel)
            .bidiStreamingRpc(
                new StreamObserver<>() {
                  @Override
                  public void onNext(SimpleResponse r) {
                    synchronized (echoes) {
                      echoes.add(r.getResponseMessage());
                    }
                  }

                  @Override
                  public void onError(Throwable t) {
                    finished.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {
                    finished.complete(null);
                  }
                });
    bidi.onNext(SimpleRequest.newBuilder().setRequestMessage("1").build());
    bidi.onNext(SimpleRequest.newBuilder().setRequestMessage("2").build());
    bidi.onCompleted();
    finished.get(10, TimeUnit.SECONDS);
    assertThat(echoes).containsExactly("echo 1", "echo 2");
  }

  @Test
  void grpcLocalReplyIsTrailersOnly() {
    // No healthy upstream for a gRPC request: Envoy answers 200 with grpc-status 14 (UNAVAILABLE).
    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", legate.port("front")).usePlaintext().build();
    try (H2Client c = new H2Client(legate.port("front"))) {
      var h = new io.netty.handler.codec.http2.DefaultHttp2Headers();
      h.set("content-type", "application/grpc");
      H2Client.Response r = c.send("POST", "/nope", "localhost", "", h);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.headers().get("grpc-status").toString()).isEqualTo("14");
      assertThat(r.headers().get("grpc-message").toString()).isEqualTo("no healthy upstream");
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void http2DownstreamToHttp1Upstream() {
    try (H2Client c = new H2Client(legate.port("front"))) {
      H2Client.Response r = c.get("/h1/echo/x");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).startsWith("GET /echo/x HTTP/1.1\n").contains("host: localhost\n");
      assertThat(r.headers().get("x-upstream").toString()).isEqualTo("h1");
      H2Client.Response post = c.send("POST", "/h1/echo/p", "localhost", "body-bytes", null);
      assertThat(post.body()).startsWith("POST /echo/p HTTP/1.1\n").endsWith("\n\nbody-bytes");
      H2Client.Response big = c.get("/h1/size/200000");
      assertThat(big.body()).hasSize(200000);
    }
  }

  @Test
  void moreHttp2ResponseHeadersThanMaxHeadersCountIsAnUpstreamProtocolError() {
    try (H2Client c = new H2Client(legate.port("front"))) {
      // The test upstream adds x-upstream and content-length to the N fields asked for.
      H2Client.Response under = c.get("/h2up/headers/90");
      assertThat(under.status()).isEqualTo(200);
      assertThat(under.headers().get("x-h-89").toString()).isEqualTo("v");
      H2Client.Response over = c.get("/h2up/headers/100");
      assertThat(over.status()).isEqualTo(502);
      assertThat(over.body()).isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: protocol error");
      // The connection to the upstream stays up for the next request.
      assertThat(c.get("/h2up/echo").status()).isEqualTo(200);
    }
  }

  @Test
  void http2ResponseHeadersOverMaxResponseHeadersKbAreAnUpstreamProtocolError() {
    try (H2Client c = new H2Client(legate.port("front"))) {
      assertThat(c.get("/h2small/headers/3").status()).isEqualTo(200);
      // 40 fields of ~40 bytes each by HPACK's size rule: over the cluster's 1 KiB.
      H2Client.Response over = c.get("/h2small/headers/40");
      assertThat(over.status()).isEqualTo(502);
      assertThat(over.body()).isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: protocol error");
    }
  }

  @Test
  void http2NoRouteIs404() {
    try (H2Client c = new H2Client(legate.port("front"))) {
      assertThat(c.get("/none").status()).isEqualTo(404);
    }
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * envoy.filters.http.grpc_web in a whole server: a gRPC-Web client speaking by hand over HTTP/1.1
 * (JDK HttpClient) and HTTP/2, binary and base64 text, to a real grpc-java server.
 */
class GrpcWebIntegrationTest {
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
                stat_prefix: web
                codec_type: AUTO
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/grpc.testing.SimpleService/", grpc: {} }
                      route: { cluster: grpc }
                    - match: { prefix: "/nope" }
                      route: { cluster: missing }
                http_filters:
                - name: envoy.filters.http.grpc_web
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb }
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        - name: slow
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: slow
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: grpc }
                http_filters:
                - name: envoy.filters.http.fault
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                    response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } }
                - name: envoy.filters.http.grpc_web
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb }
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
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
        - name: missing
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: missing }
      """;
  static final String UNARY = "/grpc.testing.SimpleService/UnaryRpc";
  static final String STREAMING = "/grpc.testing.SimpleService/ServerStreamingRpc";
  static final String STATS = "cluster.grpc.grpc-web.grpc.testing.SimpleService.";

  static Server grpc;
  static Legate legate;
  static final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

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
      for (int i = 0; i < 3; i++) {
        out.onNext(SimpleResponse.newBuilder().setResponseMessage(req.getRequestMessage() + i).build());
      }
      if (req.getRequestMessage().equals("fail")) {
        out.onError(Status.INVALID_ARGUMENT.withDescription("bad thing \u00e9").asRuntimeException());
        return;
      }
      out.onCompleted();
    }
  }

  @BeforeAll
  static void start() throws Exception {
    grpc = ServerBuilder.forPort(0).addService(new Service()).build().start();
    legate = Legate.start(CONFIG, Map.of("GRPC", grpc.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (legate != null) {
      legate.close();
    }
    grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  record Frame(int flags, byte[] payload) {
    String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }

    SimpleResponse message() throws Exception {
      return SimpleResponse.parseFrom(payload);
    }
  }

  static byte[] frame(String message) {
    byte[] m = SimpleRequest.newBuilder().setRequestMessage(message).build().toByteArray();
    return ByteBuffer.allocate(5 + m.length).put((byte) 0).putInt(m.length).put(m).array();
  }

  static List<Frame> frames(byte[] body) {
    List<Frame> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(body);
    while (b.hasRemaining()) {
      int flags = b.get() & 0xff;
      byte[] p = new byte[b.getInt()];
      b.get(p);
      out.add(new Frame(flags, p));
    }
    return out;
  }

  /** Decodes a gRPC-Web text body: separately padded base64 chunks, decoded one quantum at a time. */
  static byte[] unbase64(String text) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < text.length(); i += 4) {
      out.writeBytes(Base64.getDecoder().decode(text.substring(i, i + 4)));
    }
    return out.toByteArray();
  }

  static HttpResponse<byte[]> post(String path, String contentType, String accept, byte[] body) throws Exception {
    return post("front", path, contentType, accept, body);
  }

  static HttpResponse<byte[]> post(String listener, String path, String contentType, String accept, byte[] body)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(legate.uri(listener, path))
        .timeout(Duration.ofSeconds(20))
        .header("content-type", contentType)
        .header("x-grpc-web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (accept != null) {
      b.header("accept", accept);
    }
    return client.sendAsync(b.build(), HttpResponse.BodyHandlers.ofByteArray()).get(30, TimeUnit.SECONDS);
  }

  @Test
  void binaryUnaryOverHttp1() throws Exception {
    long success = legate.stat(STATS + "UnaryRpc.success");
    HttpResponse<byte[]> r = post(UNARY, "application/grpc-web+proto", null, frame("world"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc-web+proto");
    List<Frame> f = frames(r.body());
    assertThat(f).hasSize(2);
    assertThat(f.get(0).flags()).isEqualTo(0);
    assertThat(f.get(0).message().getResponseMessage()).isEqualTo("hello world");
    assertThat(f.get(1).flags()).isEqualTo(0x80);
    assertThat(f.get(1).text()).isEqualTo("grpc-status:0\r\n");
    assertThat(legate.stat(STATS + "UnaryRpc.success") - Math.max(0, success)).isEqualTo(1);
    assertThat(legate.stat(STATS + "UnaryRpc.0")).isPositive();
    assertThat(legate.stat(STATS + "UnaryRpc.total")).isPositive();
  }

  @Test
  void textServerStreamingOverHttp1() throws Exception {
    byte[] body = Base64.getEncoder().encode(frame("m"));
    HttpResponse<byte[]> r = post(STREAMING, "application/grpc-web-text", "application/grpc-web-text", body);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc-web-text+proto");
    String text = new String(r.body(), StandardCharsets.US_ASCII);
    assertThat(text).matches("[A-Za-z0-9+/=]+");
    List<Frame> f = frames(unbase64(text));
    assertThat(f).hasSize(4);
    for (int i = 0; i < 3; i++) {
      assertThat(f.get(i).flags()).isEqualTo(0);
      assertThat(f.get(i).message().getResponseMessage()).isEqualTo("m" + i);
    }
    assertThat(f.get(3).flags()).isEqualTo(0x80);
    assertThat(f.get(3).text()).isEqualTo("grpc-status:0\r\n");
  }

  @Test
  void textRequestSplitAcrossChunksWithABinaryResponse() throws Exception {
    // Two separately padded base64 chunks (as browsers send them), and a binary response.
    byte[] one = frame("a");
    String text = Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(one, 4))
        + Base64.getEncoder().encodeToString(java.util.Arrays.copyOfRange(one, 4, one.length));
    assertThat(text.indexOf('=')).isLessThan(text.length() - 2);
    HttpResponse<byte[]> r = post(UNARY, "application/grpc-web-text+proto", "application/grpc-web",
        text.getBytes(StandardCharsets.US_ASCII));
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc-web+proto");
    assertThat(frames(r.body()).get(0).message().getResponseMessage()).isEqualTo("hello a");
  }

  @Test
  void errorStatusAfterMessagesTravelsInTheTrailerFrame() throws Exception {
    long failure = Math.max(0, legate.stat(STATS + "ServerStreamingRpc.failure"));
    HttpResponse<byte[]> r = post(STREAMING, "application/grpc-web", null, frame("fail"));
    assertThat(r.statusCode()).isEqualTo(200);
    List<Frame> f = frames(r.body());
    assertThat(f).hasSize(4);
    assertThat(f.get(2).message().getResponseMessage()).isEqualTo("fail2");
    assertThat(f.get(3).flags()).isEqualTo(0x80);
    assertThat(f.get(3).text()).isEqualTo("grpc-status:3\r\ngrpc-message:bad thing %C3%A9\r\n");
    assertThat(legate.stat(STATS + "ServerStreamingRpc.failure") - failure).isEqualTo(1);
    assertThat(legate.stat(STATS + "ServerStreamingRpc.3")).isPositive();
  }

  @Test
  void trailersOnlyErrorsKeepTheStatusInHeaders() throws Exception {
    HttpResponse<byte[]> r = post(UNARY, "application/grpc-web-text", "application/grpc-web-text",
        Base64.getEncoder().encode(frame("fail")));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("5");
    assertThat(r.headers().firstValue("grpc-message")).hasValue("no such thing");
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc-web-text+proto");
    assertThat(r.body()).isEmpty();
    assertThat(legate.stat(STATS + "UnaryRpc.5")).isPositive();
  }

  @Test
  void textOverHttp2() {
    try (H2Client h2 = new H2Client(legate.port("front"))) {
      String body = Base64.getEncoder().encodeToString(frame("h2"));
      H2Client.Response r = h2.send("POST", UNARY, "localhost", body, new DefaultHttp2Headers()
          .add("content-type", "application/grpc-web-text").add("accept", "application/grpc-web-text"));
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.trailers()).isNull();
      assertThat(r.headers().get("content-type").toString()).isEqualTo("application/grpc-web-text+proto");
      List<Frame> f = frames(unbase64(r.body()));
      assertThat(f).extracting(Frame::flags).containsExactly(0, 0x80);
      assertThat(f.get(1).text()).isEqualTo("grpc-status:0\r\n");
    }
  }

  @Test
  void nonGrpcResponsesBecomeGrpcStatusAndMessage() throws Exception {
    HttpResponse<byte[]> r = post("/nope/x", "application/grpc-web", null, frame("x"));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("14");
    assertThat(r.headers().firstValue("grpc-message")).hasValue("no healthy upstream");
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc-web+proto");
    assertThat(r.body()).isEmpty();
  }

  @Test
  void badBase64IsRefusedWith400() throws Exception {
    HttpResponse<byte[]> r = post(UNARY, "application/grpc-web-text", null, "AAA*".getBytes(StandardCharsets.US_ASCII));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("13");
    assertThat(r.headers().firstValue("grpc-message")).hasValue("Bad gRPC-web request, invalid base64 data.");
    HttpResponse<byte[]> size = post(UNARY, "application/grpc-web-text", null, "AAAAA".getBytes(StandardCharsets.US_ASCII));
    assertThat(size.statusCode()).isEqualTo(400);
  }

  @Test
  void plainRequestsPassUntouched() throws Exception {
    HttpResponse<byte[]> r = post("/nope/x", "text/plain", null, new byte[] {1});
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("grpc-status")).isEmpty();
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("no healthy upstream");
  }

  @Test
  void rewrittenFramesKeepTheirOrderWhenAFilterDownstreamPauses() throws Exception {
    // The fault filter (listed first, so it encodes last) throttles the response to 1 KiB/s: it
    // pauses on frames the gRPC-Web filter injected, and what comes from upstream meanwhile waits.
    long throttled = Math.max(0, legate.stat("http.slow.fault.response_rl_injected"));
    String word = "w".repeat(200);
    HttpResponse<byte[]> r = post("slow", STREAMING, "application/grpc-web-text", "application/grpc-web-text",
        Base64.getEncoder().encode(frame(word)));
    assertThat(r.statusCode()).isEqualTo(200);
    List<Frame> f = frames(unbase64(new String(r.body(), StandardCharsets.US_ASCII)));
    assertThat(f).hasSize(4);
    for (int i = 0; i < 3; i++) {
      assertThat(f.get(i).message().getResponseMessage()).isEqualTo(word + i);
    }
    assertThat(f.get(3).text()).isEqualTo("grpc-status:0\r\n");
    assertThat(legate.stat("http.slow.fault.response_rl_injected") - throttled).isEqualTo(1);
  }
}

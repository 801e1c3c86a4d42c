package io.legate.http.async;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import io.legate.upstream.ClusterManager;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AsyncHttpClientTest {
  static final String YAML =
      """
      static_resources:
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: up2
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: up2
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: dead
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: dead
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${DEAD} } } }
        - name: empty
          type: STATIC
          load_assignment: { cluster_name: empty }
      """;

  static TestUpstream up;
  static RefusedPort dead;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    up = new TestUpstream("up");
    dead = new RefusedPort();
    legate = Legate.start(YAML, Map.of("UP", up.port(), "DEAD", dead.port()));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up != null) {
      up.close();
    }
    if (dead != null) {
      dead.close();
    }
  }

  /** The outcome of a call: a response, or "failure:<timeout>:<reason>". */
  static Object call(String cluster, String method, String path, String body, long timeoutMs, int max) throws Exception {
    CompletableFuture<Object> result = new CompletableFuture<>();
    EventLoop loop = AsyncHttpClient.backgroundLoop();
    ClusterManager clusters = legate.server().clusterManager();
    loop.execute(() -> {
      Http2Headers h = new DefaultHttp2Headers(false).method(method).path(path).authority("svc.local");
      ByteBuf b = body == null ? null : Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
      if (b != null) {
        h.set("content-length", Integer.toString(b.readableBytes()));
      }
      AsyncHttpClient.send(loop, clusters, cluster, h, b, timeoutMs, max, new AsyncHttpClient.Callback() {
        @Override
        public void onSuccess(AsyncHttpClient.Response r) {
          assertThat(loop.inEventLoop()).isTrue();
          result.complete(r);
        }

        @Override
        public void onFailure(boolean timeout, String reason) {
          result.complete("failure:" + timeout + ":" + reason);
        }
      });
    });
    return result.get(10, TimeUnit.SECONDS);
  }

  @Test
  void getsAResponseWithHeadersAndBody() throws Exception {
    AsyncHttpClient.Response r = (AsyncHttpClient.Response) call("up", "GET", "/hello", null, 2000, 1 << 20);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.headers().get("x-upstream").toString()).isEqualTo("up");
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).startsWith("GET /hello HTTP/1.1\n").contains("host: svc.local\n");
  }

  @Test
  void postsABodyOverHttp2() throws Exception {
    AsyncHttpClient.Response r = (AsyncHttpClient.Response) call("up2", "POST", "/echo", "payload", 2000, 1 << 20);
    assertThat(r.status()).isEqualTo(200);
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).startsWith("POST /echo HTTP/2").endsWith("\n\npayload");
  }

  @Test
  void statusWithoutBody() throws Exception {
    AsyncHttpClient.Response r = (AsyncHttpClient.Response) call("up", "GET", "/status/204", null, 2000, 10);
    assertThat(r.status()).isEqualTo(204);
    assertThat(r.body()).isEmpty();
  }

  @Test
  void timesOut() throws Exception {
    assertThat(call("up", "GET", "/delay/3000", null, 100, 1 << 20)).isEqualTo("failure:true:timeout");
  }

  @Test
  void refusesATooLargeBody() throws Exception {
    assertThat(call("up", "GET", "/size/100", null, 2000, 10)).isEqualTo("failure:false:response body too large");
  }

  @Test
  void failures() throws Exception {
    assertThat(call("nope", "GET", "/", null, 2000, 10)).isEqualTo("failure:false:unknown cluster 'nope'");
    assertThat(call("empty", "GET", "/", null, 2000, 10)).isEqualTo("failure:false:no healthy upstream");
    assertThat(call("dead", "GET", "/", null, 2000, 10)).isEqualTo("failure:false:connection failure");
  }
}

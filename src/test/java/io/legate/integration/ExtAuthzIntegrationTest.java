package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.BoolValue;
import com.sun.net.httpserver.HttpServer;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.ext_authz in a whole server, against a real gRPC Authorization service and a real HTTP one. */
class ExtAuthzIntegrationTest {
  static final String AUTHZ = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
  static final String PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute";
  static final String HCM =
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  static final String ROUTER =
      """
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      """;
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: grpc
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: grpc
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /noauth }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        authz: { "@type": %3$s, disabled: true }
                    - match: { prefix: /ctx }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        authz: { "@type": %3$s, check_settings: { context_extensions: { tenant: blue } } }
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    grpc_service: { envoy_grpc: { cluster_name: authz_grpc }, timeout: 0.3s }
      %4$s
        - name: grpcopen
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: grpcopen
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    grpc_service: { envoy_grpc: { cluster_name: authz_grpc }, timeout: 0.3s }
                    failure_mode_allow: true
                    failure_mode_allow_header_add: true
      %4$s
        - name: grpcvalidate
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: grpcvalidate
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    grpc_service: { envoy_grpc: { cluster_name: authz_grpc }, timeout: 1s }
                    validate_mutations: true
      %4$s
        - name: grpcerr
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: grpcerr
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    grpc_service: { envoy_grpc: { cluster_name: authz_dead } }
                    status_on_error: { code: ServiceUnavailable }
      %4$s
        - name: http
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: http
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    http_service:
                      server_uri: { uri: "http://authz.local", cluster: authz_http, timeout: 1s }
                      path_prefix: /check
                      authorization_request:
                        allowed_headers: { patterns: [ { exact: x-user } ] }
                        headers_to_add: [ { key: x-added, value: "yes" } ]
                      authorization_response:
                        allowed_upstream_headers: { patterns: [ { exact: x-auth-user } ] }
                        allowed_client_headers: { patterns: [ { exact: x-deny-reason } ] }
      %4$s
        - name: grpcbody
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: grpcbody
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /delayed }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        fault:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                          delay: { fixed_delay: 0.3s, percentage: { numerator: 100 } }
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: fault
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                - name: envoy.filters.http.decompressor
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
                    decompressor_library:
                      name: gz
                      typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip }
                    response_direction_config: { common_config: { enabled: { default_value: false, runtime_key: x } } }
                - name: authz
                  typed_config:
                    "@type": %2$s
                    grpc_service: { envoy_grpc: { cluster_name: authz_grpc }, timeout: 1s }
                    with_request_body: { max_request_bytes: 10 }
      %4$s
        - name: httpbody
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: httpbody
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: authz
                  typed_config:
                    "@type": %2$s
                    with_request_body: { max_request_bytes: 4, allow_partial_message: true }
                    http_service:
                      server_uri: { uri: "http://authz.local", cluster: authz_http, timeout: 1s }
                      path_prefix: /check
      %4$s
        clusters:
        - name: up1
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up1
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
        - name: authz_grpc
          type: STATIC
          connect_timeout: 1s
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: { http2_protocol_options: {} }
          load_assignment:
            cluster_name: authz_grpc
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${GRPC} } } }
        - name: authz_dead
          type: STATIC
          connect_timeout: 1s
          load_assignment: { cluster_name: authz_dead }
        - name: authz_http
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: authz_http
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${HTTP} } } }
      """.formatted(HCM, AUTHZ, PER_ROUTE, ROUTER);

  static TestUpstream up1;
  static Server grpcServer;
  static HttpServer httpServer;
  static Legate legate;
  static final AtomicReference<CheckRequest> lastCheck = new AtomicReference<>();
  static final AtomicReference<String> lastHttpCheck = new AtomicReference<>();
  static final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  static HeaderValueOption header(String k, String v, boolean append) {
    return HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(k).setValue(v))
        .setAppend(BoolValue.of(append)).build();
  }

  @BeforeAll
  static void start() throws Exception {
    grpcServer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new AuthorizationGrpc.AuthorizationImplBase() {
          @Override
          public void check(CheckRequest req, StreamObserver<CheckResponse> out) {
            lastCheck.set(req);
            String path = req.getAttributes().getRequest().getHttp().getPath();
            if (path.startsWith("/deny")) {
              out.onNext(CheckResponse.newBuilder()
                  .setStatus(com.google.rpc.Status.newBuilder().setCode(7))
                  .setDeniedResponse(DeniedHttpResponse.newBuilder()
                      .setStatus(HttpStatus.newBuilder().setCode(StatusCode.Unauthorized))
                      .setBody("go away")
                      .addHeaders(header("x-deny-reason", "nope", false)))
                  .build());
              out.onCompleted();
            } else if (path.startsWith("/plaindeny")) {
              out.onNext(CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(7)).build());
              out.onCompleted();
            } else if (path.startsWith("/inject")) {
              // Header changes no codec can carry: CR LF in a value (a second header on HTTP/1.1),
              // a name that is not a token, a char that is LF in its low byte.
              out.onNext(CheckResponse.newBuilder()
                  .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                  .setOkResponse(OkHttpResponse.newBuilder()
                      .addHeaders(header("x-good", "fine", false))
                      .addHeaders(header("x-evil", "a\r\nx-injected: 1", false))
                      .addHeaders(header("x-bad name", "v", false))
                      .addHeaders(header("x-wide", "a\u010ax-injected-too: 1", false))
                      .addResponseHeadersToAdd(header("x-resp-good", "r", false))
                      .addResponseHeadersToAdd(header("x-resp-evil", "b\nc", false)))
                  .build());
              out.onCompleted();
            } else if (path.startsWith("/slow")) {
              timer.schedule(() -> {
                out.onNext(CheckResponse.newBuilder().build());
                out.onCompleted();
              }, 1500, TimeUnit.MILLISECONDS);
            } else {
              out.onNext(CheckResponse.newBuilder()
                  .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                  .setOkResponse(OkHttpResponse.newBuilder()
                      .addHeaders(header("x-authz", "yes", false))
                      .addHeaders(header("x-append", "second", true))
                      .addHeadersToRemove("x-remove-me")
                      .addResponseHeadersToAdd(header("x-resp", "r1", false)))
                  .build());
              out.onCompleted();
            }
          }
        })
        .build()
        .start();
    httpServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    httpServer.createContext("/check", ex -> {
      StringBuilder sb = new StringBuilder(ex.getRequestMethod() + " " + ex.getRequestURI() + "\n");
      ex.getRequestHeaders().forEach((k, v) -> sb.append(k.toLowerCase()).append(": ").append(String.join(",", v)).append('\n'));
      sb.append("\n").append(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      lastHttpCheck.set(sb.toString());
      String user = ex.getRequestHeaders().getFirst("x-user");
      if ("alice".equals(user) || ex.getRequestURI().getPath().startsWith("/check/body")) {
        ex.getResponseHeaders().add("x-auth-user", "alice");
        ex.getResponseHeaders().add("x-other", "not-forwarded");
        ex.sendResponseHeaders(200, -1);
      } else if ("boom".equals(user)) {
        ex.sendResponseHeaders(503, -1);
      } else {
        byte[] body = "who are you".getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("x-deny-reason", "no-user");
        ex.getResponseHeaders().add("x-hidden", "h");
        ex.sendResponseHeaders(401, body.length);
        ex.getResponseBody().write(body);
      }
      ex.close();
    });
    httpServer.start();
    up1 = new TestUpstream("up1");
    legate = Legate.start(CONFIG, Map.of("UP1", up1.port(), "GRPC", grpcServer.getPort(),
        "HTTP", httpServer.getAddress().getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (legate != null) {
      legate.close();
    }
    if (up1 != null) {
      up1.close();
    }
    if (grpcServer != null) {
      grpcServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (httpServer != null) {
      httpServer.stop(0);
    }
    timer.shutdownNow();
  }

  @Test
  void grpcAllowAppliesTheHeaderChanges() {
    HttpResponse<String> r = legate.get("grpc", "/allow?q=1", "x-remove-me", "bye", "x-append", "first", "x-user", "u1");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\nx-authz: yes\n").contains("\nx-append: first,second\n").doesNotContain("x-remove-me");
    assertThat(r.headers().firstValue("x-resp")).hasValue("r1");
    CheckRequest check = lastCheck.get();
    var http = check.getAttributes().getRequest().getHttp();
    assertThat(http.getMethod()).isEqualTo("GET");
    assertThat(http.getPath()).isEqualTo("/allow?q=1");
    assertThat(http.getHost()).isEqualTo("127.0.0.1:" + legate.port("grpc"));
    assertThat(http.getScheme()).isEqualTo("http");
    assertThat(http.getProtocol()).isEqualTo("HTTP/1.1");
    assertThat(http.getHeadersMap()).containsEntry("x-user", "u1").containsEntry(":method", "GET");
    assertThat(http.getId()).isEqualTo(http.getHeadersMap().get("x-request-id"));
    assertThat(check.getAttributes().getSource().getAddress().getSocketAddress().getAddress()).isEqualTo("127.0.0.1");
    assertThat(check.getAttributes().getDestination().getAddress().getSocketAddress().getPortValue())
        .isEqualTo(legate.port("grpc"));
    assertThat(check.getAttributes().getContextExtensionsMap()).isEmpty();
    assertThat(legate.stat("http.grpc.ext_authz.ok")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void headersThatCannotBeWrittenAreIgnoredByDefault() throws Exception {
    HttpResponse<String> r = legate.get("grpc", "/inject");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\nx-good: fine\n").doesNotContain("x-injected").doesNotContain("x-evil")
        .doesNotContain("x-bad").doesNotContain("x-wide");
    assertThat(r.headers().firstValue("x-resp-good")).hasValue("r");
    assertThat(r.headers().firstValue("x-resp-evil")).isEmpty();
    // The same over HTTP/2, whose request header map validates what is set on it.
    try (H2Client h2 = new H2Client(legate.port("grpc"))) {
      H2Client.Response h2r = h2.get("/inject");
      assertThat(h2r.status()).isEqualTo(200);
      assertThat(h2r.body()).contains("\nx-good: fine\n").doesNotContain("x-injected").doesNotContain("x-evil");
    }
  }

  @Test
  void validateMutationsRefusesTheResponseWith500() {
    long invalid = legate.stat("http.grpcvalidate.ext_authz.invalid");
    HttpResponse<String> r = legate.get("grpcvalidate", "/inject");
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).doesNotContain("x-good");
    assertThat(legate.stat("http.grpcvalidate.ext_authz.invalid")).isEqualTo(invalid + 1);
    assertThat(legate.stat("cluster.up1.ext_authz.invalid")).isGreaterThanOrEqualTo(1);
    HttpResponse<String> ok = legate.get("grpcvalidate", "/allow");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).contains("\nx-authz: yes\n");
  }

  @Test
  void grpcDenialPassesStatusBodyAndHeaders() {
    long before = Math.max(0, legate.stat("http.grpc.ext_authz.denied"));
    HttpResponse<String> r = legate.get("grpc", "/deny");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).isEqualTo("go away");
    assertThat(r.headers().firstValue("x-deny-reason")).hasValue("nope");
    assertThat(r.headers().firstValue("x-upstream")).isEmpty();
    assertThat(legate.stat("http.grpc.ext_authz.denied")).isEqualTo(before + 1);
    assertThat(legate.stat("cluster.up1.ext_authz.denied")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void grpcDenialWithoutAResponseIs403() {
    HttpResponse<String> r = legate.get("grpc", "/plaindeny");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEmpty();
  }

  @Test
  void perRouteDisabledAndContextExtensions() {
    lastCheck.set(null);
    HttpResponse<String> r = legate.get("grpc", "/noauth");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(lastCheck.get()).isNull();
    assertThat(legate.get("grpc", "/ctx").statusCode()).isEqualTo(200);
    assertThat(lastCheck.get().getAttributes().getContextExtensionsMap()).isEqualTo(Map.of("tenant", "blue"));
  }

  @Test
  void grpcTimeoutIs403() {
    long before = Math.max(0, legate.stat("http.grpc.ext_authz.error"));
    HttpResponse<String> r = legate.get("grpc", "/slow");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.headers().firstValue("x-upstream")).isEmpty();
    assertThat(legate.stat("http.grpc.ext_authz.error")).isEqualTo(before + 1);
    assertThat(legate.stat("http.grpc.ext_authz.timeout")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void failureModeAllowContinuesAndMarksTheRequest() {
    HttpResponse<String> r = legate.get("grpcopen", "/slow");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\nx-envoy-auth-failure-mode-allowed: true\n");
    assertThat(legate.stat("http.grpcopen.ext_authz.failure_mode_allowed")).isEqualTo(1);
    assertThat(legate.stat("http.grpcopen.ext_authz.error")).isEqualTo(1);
    assertThat(legate.stat("cluster.up1.ext_authz.failure_mode_allowed")).isEqualTo(1);
  }

  @Test
  void statusOnErrorWhenTheServiceIsUnreachable() {
    HttpResponse<String> r = legate.get("grpcerr", "/x");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(legate.stat("http.grpcerr.ext_authz.error")).isEqualTo(1);
  }

  @Test
  void httpServiceAllowsWithUpstreamHeaders() {
    HttpResponse<String> r = legate.get("http", "/res?a=1", "x-user", "alice", "x-secret", "s", "authorization", "Basic abc");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\nx-auth-user: alice\n").doesNotContain("x-other");
    String check = lastHttpCheck.get();
    assertThat(check).startsWith("GET /check/res?a=1\n")
        .contains("\nx-user: alice\n")
        .contains("\nauthorization: Basic abc\n")
        .contains("\nx-added: yes\n")
        .contains("\nhost: 127.0.0.1:" + legate.port("http") + "\n")
        .doesNotContain("x-secret");
    assertThat(legate.stat("http.http.ext_authz.ok")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void httpServiceDenialIsPassedBack() {
    HttpResponse<String> r = legate.get("http", "/res", "x-user", "mallory");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).isEqualTo("who are you");
    assertThat(r.headers().firstValue("x-deny-reason")).hasValue("no-user");
    assertThat(r.headers().firstValue("x-hidden")).isEmpty();
    assertThat(r.headers().firstValue("x-upstream")).isEmpty();
  }

  static HttpResponse<String> post(String listener, String path, String body) {
    return legate.send(java.net.http.HttpRequest.newBuilder(legate.uri(listener, path))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build());
  }

  @Test
  void grpcWithRequestBodySendsTheBody() {
    HttpResponse<String> r = post("grpcbody", "/allow/body", "hello");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("POST /allow/body HTTP/1.1\n").endsWith("\n\nhello");
    var http = lastCheck.get().getAttributes().getRequest().getHttp();
    assertThat(http.getBody()).isEqualTo("hello");
    assertThat(http.getHeadersMap()).containsEntry("x-envoy-auth-partial-body", "false");
  }

  @Test
  void bodyReachesTheCheckWhenAnEarlierFilterHeldTheRequest() {
    HttpResponse<String> r = post("grpcbody", "/delayed", "0123456789");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).endsWith("\n\n0123456789");
    assertThat(lastCheck.get().getAttributes().getRequest().getHttp().getBody()).isEqualTo("0123456789");
  }

  @Test
  void aDecompressorBeforeTheCheckHandsItTheDecodedBody() throws Exception {
    java.io.ByteArrayOutputStream z = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream g = new java.util.zip.GZIPOutputStream(z)) {
      g.write("0123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
    for (String path : new String[] {"/allow/gz", "/delayed/gz"}) {
      HttpResponse<String> r =
          legate.send(java.net.http.HttpRequest.newBuilder(legate.uri("grpcbody", path))
              .header("content-encoding", "gzip")
              .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(z.toByteArray())).build());
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.body()).as(path).endsWith("\n\n0123456789").doesNotContain("content-encoding");
      assertThat(lastCheck.get().getAttributes().getRequest().getHttp().getBody()).as(path).isEqualTo("0123456789");
    }
  }

  @Test
  void bodyAboveMaxRequestBytesIs413() {
    HttpResponse<String> r = post("grpcbody", "/allow", "0123456789A");
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(r.body()).isEqualTo("Payload Too Large");
  }

  @Test
  void httpWithPartialBody() {
    HttpResponse<String> r = post("httpbody", "/body", "abcdefgh");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).endsWith("\n\nabcdefgh");
    assertThat(lastHttpCheck.get()).startsWith("POST /check/body\n")
        .contains("\ncontent-length: 4\n")
        .contains("\nx-envoy-auth-partial-body: true\n")
        .endsWith("\n\nabcd");
  }

  @Test
  void httpService5xxIsAnError() {
    HttpResponse<String> r = legate.get("http", "/res", "x-user", "boom");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEmpty();
    assertThat(legate.stat("http.http.ext_authz.error")).isGreaterThanOrEqualTo(1);
  }
}

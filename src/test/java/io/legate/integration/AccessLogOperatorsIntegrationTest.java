package io.legate.integration;

import static io.legate.integration.AccessLogIntegrationTest.waitForLines;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import io.legate.tls.TestCerts;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The access-log command operators beyond the basics, on real traffic: timings, upstream connection
 * addresses and failure reason, SNI (from the TLS inspector and from the TLS session), trace id,
 * connection id, and ext_authz's dynamic metadata in text and json_format.
 */
class AccessLogOperatorsIntegrationTest {
  @TempDir Path dir;

  static final String HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

  static final String TEXT_FORMAT =
      "%REQ(:METHOD)% %REQ(X-MISSING?:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %UPSTREAM_CLUSTER% "
          + "%ROUTE_NAME% [%DYNAMIC_METADATA(envoy.filters.http.ext_authz:user)%] [%DYNAMIC_METADATA(envoy.filters.http.ext_authz)%] "
          + "%TRACE_ID% %REQUESTED_SERVER_NAME% %UPSTREAM_TRANSPORT_FAILURE_REASON% %UPSTREAM_LOCAL_ADDRESS% "
          + "%UPSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %CONNECTION_ID% "
          + "%REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION% %HOSTNAME% %START_TIME(%s.%3f)% "
          + "%TRAILER(x-none)% %REQ(USER-AGENT):4%";

  static String hcm(String prefix, String log, boolean authzAndTracing) {
    String extra = !authzAndTracing ? "" : """
                tracing:
                  random_sampling: { value: 100 }
                  provider:
                    name: envoy.tracers.zipkin
                    typed_config:
                      "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                      collector_cluster: up
                      collector_endpoint: /api/v2/spans
                      collector_endpoint_version: HTTP_JSON
                      trace_id_128bit: true
      """;
    String authz = !authzAndTracing ? "" : """
                - name: envoy.filters.http.ext_authz
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                    grpc_service: { envoy_grpc: { cluster_name: authz_grpc }, timeout: 5s }
      """;
    return """
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %s
                stat_prefix: %s
      %s
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: %s
                    log_format:
                      text_format_source:
                        inline_string: "%s\\n"
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: %s.json
                    log_format:
                      json_format:
                        meta: "%%DYNAMIC_METADATA(envoy.filters.http.ext_authz)%%"
                        user: "%%DYNAMIC_METADATA(envoy.filters.http.ext_authz:user)%%"
                        level: "%%DYNAMIC_METADATA(envoy.filters.http.ext_authz:level)%%"
                        code: "%%RESPONSE_CODE%%"
                        sni: "%%REQUESTED_SERVER_NAME%%"
                        failure: "%%UPSTREAM_TRANSPORT_FAILURE_REASON%%"
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - name: to-dead
                      match: { prefix: "/dead" }
                      route: { cluster: dead }
                    - name: to-up
                      match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
      %s
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      """.formatted(HCM, prefix, extra, log, TEXT_FORMAT.replace("%", "%%").replace("\"", "\\\""), log, authz)
        .replace("%%", "%");
  }

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
      ${HCM_FRONT}
        - name: inspected
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          listener_filters:
          - name: envoy.filters.listener.tls_inspector
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector }
          filter_chains:
          - filter_chain_match: { server_names: ["a.test"] }
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  alpn_protocols: ["http/1.1"]
                  tls_certificates:
                  - certificate_chain: { filename: "${A_CERT}" }
                    private_key: { filename: "${A_KEY}" }
            filters:
      ${HCM_INSPECTED}
        - name: terminated
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_certificates:
                  - certificate_chain: { filename: "${A_CERT}" }
                    private_key: { filename: "${A_KEY}" }
            filters:
      ${HCM_TERMINATED}
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
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
      """;

  static final String TRACE = "463ac35c9f6413ad48485a3953bb6124";

  static Server authz() throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new AuthorizationGrpc.AuthorizationImplBase() {
          @Override
          public void check(CheckRequest req, StreamObserver<CheckResponse> out) {
            CheckResponse.Builder r = CheckResponse.newBuilder()
                .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                .setOkResponse(OkHttpResponse.getDefaultInstance());
            if (req.getAttributes().getRequest().getHttp().getPath().endsWith("/meta")) {
              r.setDynamicMetadata(Struct.newBuilder()
                  .putFields("user", Value.newBuilder().setStringValue("alice").build())
                  .putFields("level", Value.newBuilder().setNumberValue(3).build()));
            }
            out.onNext(r.build());
            out.onCompleted();
          }
        })
        .build()
        .start();
  }

  /** Sends one HTTP/1.1 request over TLS with the given SNI and returns the response text. */
  static String tlsGet(int port, TestCerts certs, String sni, String path) throws Exception {
    try (SSLSocket s = (SSLSocket) certs.clientContext(null).getSocketFactory().createSocket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      SSLParameters p = s.getSSLParameters();
      p.setServerNames(List.of(new SNIHostName(sni)));
      s.setSSLParameters(p);
      s.startHandshake();
      OutputStream o = s.getOutputStream();
      o.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nUser-Agent: agent-tls\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      o.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void newOperatorsOnRealTraffic() throws Exception {
    TestCerts certs = TestCerts.get();
    TestCerts.Leaf a = certs.leaf("oplog-a", "RSA", "a.test", "dns:a.test");
    Path front = dir.resolve("front.log");
    Path inspected = dir.resolve("inspected.log");
    Path terminated = dir.resolve("terminated.log");
    Server grpc = authz();
    try (TestUpstream up = new TestUpstream("up");
        RefusedPort dead = new RefusedPort();
        Legate l = Legate.start(CONFIG, Map.ofEntries(
            Map.entry("UP", up.port()), Map.entry("DEAD", dead.port()), Map.entry("GRPC", grpc.getPort()),
            Map.entry("A_CERT", a.certPem()), Map.entry("A_KEY", a.keyPem()),
            Map.entry("HCM_FRONT", hcm("front", front.toString(), true)),
            Map.entry("HCM_INSPECTED", hcm("inspected", inspected.toString(), false)),
            Map.entry("HCM_TERMINATED", hcm("terminated", terminated.toString(), false))))) {
      int port = l.port("front");
      assertThat(l.get("front", "/delay/120/meta", "user-agent", "agent-x",
          "x-b3-traceid", TRACE, "x-b3-spanid", "a2fb4a1d1a96d312", "x-b3-sampled", "1").statusCode()).isEqualTo(200);
      assertThat(l.get("front", "/dead", "user-agent", "agent-y").statusCode()).isEqualTo(503);
      assertThat(tlsGet(l.port("inspected"), certs, "a.test", "/tls")).startsWith("HTTP/1.1 200");
      assertThat(tlsGet(l.port("terminated"), certs, "other.test", "/tls2")).startsWith("HTTP/1.1 200");

      List<String> lines = waitForLines(front, 2);
      assertThat(lines).hasSize(2);
      Matcher m = Pattern.compile(
          "GET /delay/120/meta HTTP/1\\.1 200 via_upstream up to-up \\[alice\\] \\[\\{\"user\":\"alice\",\"level\":3\\}\\] "
              + TRACE + " - - 127\\.0\\.0\\.1:(\\d+) 127\\.0\\.0\\.1:" + up.port() + " 127\\.0\\.0\\.1:" + port
              + " 127\\.0\\.0\\.1 (\\d+) (\\d+) (\\d+) (\\d+) " + Pattern.quote(InetAddress.getLocalHost().getHostName())
              + " (\\d{10}\\.\\d{3}) - agen")
          .matcher(lines.get(0));
      assertThat(m.matches()).as(lines.get(0)).isTrue();
      int upstreamLocalPort = Integer.parseInt(m.group(1));
      assertThat(upstreamLocalPort).isNotEqualTo(up.port()).isPositive();
      long requestMs = Long.parseLong(m.group(3));
      long responseMs = Long.parseLong(m.group(4));
      // The upstream answers after 120 ms: its first byte cannot come sooner, nor before the request ended.
      assertThat(responseMs).isGreaterThanOrEqualTo(120).isGreaterThanOrEqualTo(requestMs);
      long startMs = (long) (Double.parseDouble(m.group(6)) * 1000);
      assertThat(startMs).isBetween(System.currentTimeMillis() - 60_000, System.currentTimeMillis());

      // A refused connection: no upstream connection, the transport failure reason with '_' for ' '.
      Matcher d = Pattern.compile(
          "GET /dead HTTP/1\\.1 503 upstream_reset_before_response_started\\{connection_failure\\} dead to-dead \\[-\\] \\[-\\] "
              + "[0-9a-f]{32} - (\\S+) - 127\\.0\\.0\\.1:\\d+ 127\\.0\\.0\\.1:" + port + " 127\\.0\\.0\\.1 (\\d+) (\\d+) - - \\S+ \\S+ - agen")
          .matcher(lines.get(1));
      assertThat(d.matches()).as(lines.get(1)).isTrue();
      assertThat(d.group(1)).doesNotContain(" ");

      List<String> json = waitForLines(Path.of(front + ".json"), 2);
      assertThat(json.get(0)).isEqualTo(
          "{\"meta\":{\"user\":\"alice\",\"level\":3},\"user\":\"alice\",\"level\":3,\"code\":200,\"sni\":null,\"failure\":null}");
      assertThat(json.get(1)).matches(
          "\\{\"meta\":null,\"user\":null,\"level\":null,\"code\":503,\"sni\":null,\"failure\":\"[^\" ]+\"\\}");

      // SNI read by the TLS inspector, and from the TLS session when there is no inspector.
      List<String> tls = waitForLines(inspected, 1);
      assertThat(tls.get(0)).matches(
          "GET /tls HTTP/1\\.1 200 via_upstream up to-up \\[-\\] \\[-\\] - a\\.test - 127\\.0\\.0\\.1:\\d+ 127\\.0\\.0\\.1:"
              + up.port() + " 127\\.0\\.0\\.1:" + l.port("inspected") + " 127\\.0\\.0\\.1 (\\d+) \\d+ \\d+ \\d+ \\S+ \\S+ - agen");
      List<String> tls2 = waitForLines(terminated, 1);
      assertThat(tls2.get(0)).matches(
          "GET /tls2 HTTP/1\\.1 200 via_upstream up to-up \\[-\\] \\[-\\] - other\\.test - 127\\.0\\.0\\.1:\\d+ .* 127\\.0\\.0\\.1 (\\d+) \\d+ \\d+ \\d+ \\S+ \\S+ - agen");
      // Each connection has its own id.
      String id1 = tls.get(0).replaceAll(".* 127\\.0\\.0\\.1 (\\d+) \\d+ \\d+ \\d+ \\S+ \\S+ - agen$", "$1");
      String id2 = tls2.get(0).replaceAll(".* 127\\.0\\.0\\.1 (\\d+) \\d+ \\d+ \\d+ \\S+ \\S+ - agen$", "$1");
      assertThat(id1).matches("\\d+").isNotEqualTo(id2).isNotEqualTo(m.group(2));
      assertThat(id2).matches("\\d+");
      assertThat(waitForLines(Path.of(inspected + ".json"), 1).get(0)).isEqualTo(
          "{\"meta\":null,\"user\":null,\"level\":null,\"code\":200,\"sni\":\"a.test\",\"failure\":null}");
    } finally {
      grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.legate.testing.Legate;
import io.legate.tls.TestCerts;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TLS end to end: termination, SNI and ALPN chain selection, mTLS, and TLS upstreams with SAN checks. */
class TlsIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: front
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
                  alpn_protocols: ["h2", "http/1.1"]
                  tls_certificates:
                  - certificate_chain: { filename: "${A_CERT}" }
                    private_key: { filename: "${A_KEY}" }
            filters: [ ${HCM_A} ]
          - filter_chain_match: { server_names: ["*.wild.test"] }
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_params: { tls_minimum_protocol_version: TLSv1_2, tls_maximum_protocol_version: TLSv1_2,
                                cipher_suites: ["[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"], ecdh_curves: ["P-256"] }
                  tls_certificates:
                  - certificate_chain: { filename: "${B_CERT}" }
                    private_key: { inline_string: "${B_KEY}" }
            filters: [ ${HCM_B} ]
          - filter_chain_match: { transport_protocol: tls }
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  alpn_protocols: ["h2", "http/1.1"]
                  tls_certificates:
                  - certificate_chain: { filename: "${L_CERT}" }
                    private_key: { filename: "${L_KEY}" }
            filters: [ ${HCM_L} ]
          - filter_chain_match: { transport_protocol: raw_buffer }
            filters: [ ${HCM_RAW} ]
        - name: mtls
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                require_client_certificate: true
                common_tls_context:
                  tls_certificates:
                  - certificate_chain: { filename: "${L_CERT}" }
                    private_key: { filename: "${L_KEY}" }
                  validation_context:
                    trusted_ca: { filename: "${CA}" }
                    match_typed_subject_alt_names:
                    - san_type: URI
                      matcher: { prefix: "spiffe://test/client" }
            filters: [ ${HCM_M} ]
        clusters:
        - name: tls_ok
          connect_timeout: 2s
          load_assignment:
            cluster_name: tls_ok
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              sni: upstream.test
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
                  match_typed_subject_alt_names:
                  - { san_type: DNS, matcher: { exact: upstream.test } }
        - name: tls_wrong_san
          connect_timeout: 2s
          load_assignment:
            cluster_name: tls_wrong_san
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
                  match_typed_subject_alt_names:
                  - { san_type: DNS, matcher: { exact: other.test } }
        - name: tls_no_validation
          connect_timeout: 2s
          load_assignment:
            cluster_name: tls_no_validation
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      """;

  static String hcm(String prefix, String body) {
    return ("{ name: envoy.filters.network.http_connection_manager, typed_config: {"
            + " \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager,"
            + " stat_prefix: %s, http_filters: [ { name: envoy.filters.http.router, typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ],"
            + " route_config: { virtual_hosts: [ { name: v, domains: [\"*\"], routes: ["
            + " { match: { prefix: \"/up/ok\" }, route: { cluster: tls_ok } },"
            + " { match: { prefix: \"/up/wrong\" }, route: { cluster: tls_wrong_san } },"
            + " { match: { prefix: \"/up/none\" }, route: { cluster: tls_no_validation } },"
            + " { match: { prefix: \"/proto\" }, route: { cluster: tls_no_validation } },"
            + " { match: { prefix: \"/\" }, direct_response: { status: 200, body: { inline_string: \"%s\" } } } ] } ] } } }")
        .formatted(prefix, body);
  }

  static TestCerts certs;
  static TestCerts.Leaf a;
  static TestCerts.Leaf b;
  static TestCerts.Leaf local;
  static TestCerts.Leaf upstream;
  static TestCerts.Leaf client;
  static TestCerts.Leaf badClient;
  static HttpsServer up;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.get();
    a = certs.leaf("a", "RSA", "a.test", "dns:a.test");
    b = certs.leaf("b", "EC", "b.wild.test", "dns:*.wild.test");
    local = certs.leaf("local", "RSA", "localhost", "dns:localhost,ip:127.0.0.1");
    upstream = certs.leaf("upstream", "RSA", "upstream.test", "dns:upstream.test");
    client = certs.leaf("client", "EC", "client", "uri:spiffe://test/client/1");
    badClient = certs.leaf("badclient", "RSA", "bad", "uri:spiffe://other/x");
    up = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    up.setHttpsConfigurator(new HttpsConfigurator(certs.serverContext(upstream)));
    up.createContext("/", ex -> {
      byte[] body = ("upstream " + ex.getRequestURI().getPath() + " " + ex.getRequestHeaders().getFirst("x-forwarded-proto")).getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream o = ex.getResponseBody()) {
        o.write(body);
      }
    });
    up.start();
    String bKey = java.nio.file.Files.readString(b.keyPem()).replace("\n", "\\n");
    legate = Legate.start(CONFIG, Map.ofEntries(
        Map.entry("A_CERT", a.certPem()), Map.entry("A_KEY", a.keyPem()),
        Map.entry("B_CERT", b.certPem()), Map.entry("B_KEY", bKey),
        Map.entry("L_CERT", local.certPem()), Map.entry("L_KEY", local.keyPem()),
        Map.entry("CA", certs.caPem), Map.entry("UP", up.getAddress().getPort()),
        Map.entry("HCM_A", hcm("a", "chain-a")), Map.entry("HCM_B", hcm("b", "chain-b")),
        Map.entry("HCM_L", hcm("l", "chain-l")), Map.entry("HCM_RAW", hcm("raw", "chain-raw")),
        Map.entry("HCM_M", hcm("m", "chain-m"))));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up != null) {
      up.stop(0);
    }
  }

  /** Result of a raw TLS exchange: negotiated ALPN, peer subject, response text. */
  record Exchange(String alpn, String subject, String response) {}

  static Exchange exchange(String listener, String sni, List<String> alpn, TestCerts.Leaf clientCert, String path)
      throws Exception {
    SSLContext ctx = certs.clientContext(clientCert);
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", legate.port(listener))) {
      s.setSoTimeout(10_000);
      SSLParameters p = s.getSSLParameters();
      if (sni != null) {
        p.setServerNames(List.of(new SNIHostName(sni)));
      }
      if (alpn != null) {
        p.setApplicationProtocols(alpn.toArray(new String[0]));
      }
      s.setSSLParameters(p);
      s.startHandshake();
      String subject = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
      String negotiated = s.getApplicationProtocol();
      String response = "";
      if (path != null) {
        OutputStream o = s.getOutputStream();
        o.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        o.flush();
        InputStream in = s.getInputStream();
        response = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
      }
      return new Exchange(negotiated, subject, response);
    }
  }

  @Test
  void sniPicksTheChainAndItsCertificate() throws Exception {
    Exchange ea = exchange("front", "a.test", null, null, "/");
    assertThat(ea.subject()).isEqualTo("CN=a.test");
    assertThat(ea.response()).startsWith("HTTP/1.1 200").endsWith("chain-a");
    Exchange eb = exchange("front", "x.wild.test", null, null, "/");
    assertThat(eb.subject()).isEqualTo("CN=b.wild.test");
    assertThat(eb.response()).endsWith("chain-b");
    Exchange el = exchange("front", "unknown.test", null, null, "/proto");
    assertThat(el.subject()).isEqualTo("CN=localhost");
    assertThat(el.response()).endsWith("upstream /proto https");
  }

  @Test
  void plaintextOnTheSameListenerGetsTheRawBufferChain() {
    HttpResponse<String> r = legate.get("front", "/proto");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("upstream /proto http");
  }

  @Test
  void alpnNegotiatesHttp2() throws Exception {
    assertThat(exchange("front", "a.test", List.of("h2", "http/1.1"), null, null).alpn()).isEqualTo("h2");
    assertThat(exchange("front", "a.test", List.of("http/1.1"), null, "/").response()).endsWith("chain-a");
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(certs.clientContext(null))
        .connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> r = h2.send(
        HttpRequest.newBuilder(URI.create("https://localhost:" + legate.port("front") + "/proto")).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.body()).isEqualTo("upstream /proto https");
  }

  @Test
  void mtlsNeedsAClientCertificateWithTheRightSan() throws Exception {
    assertThat(exchange("mtls", null, null, client, "/").response()).endsWith("chain-m");
    assertThatThrownBy(() -> exchange("mtls", null, null, null, "/")).isInstanceOf(java.io.IOException.class);
    assertThatThrownBy(() -> exchange("mtls", null, null, badClient, "/")).isInstanceOf(java.io.IOException.class);
    HttpResponse<String> stats = legate.admin("/stats?filter=ssl");
    assertThat(stats.body()).contains("ssl.fail_verify_san: 1");
  }

  @Test
  void upstreamTlsVerifiesTheSan() throws Exception {
    Exchange ok = exchange("front", "a.test", null, null, "/up/ok");
    assertThat(ok.response()).startsWith("HTTP/1.1 200").endsWith("upstream /up/ok https");
    Exchange none = exchange("front", "a.test", null, null, "/up/none");
    assertThat(none.response()).startsWith("HTTP/1.1 200").endsWith("upstream /up/none https");
    Exchange wrong = exchange("front", "a.test", null, null, "/up/wrong");
    assertThat(wrong.response()).startsWith("HTTP/1.1 503")
        .endsWith("upstream connect error or disconnect/reset before headers. reset reason: connection failure,"
            + " transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:"
            + "verify cert failed: SAN matcher:TLS_error_end");
    assertThat(legate.admin("/stats?filter=cluster.tls_wrong_san.ssl").body()).contains("cluster.tls_wrong_san.ssl.fail_verify_san: 1");
  }
}

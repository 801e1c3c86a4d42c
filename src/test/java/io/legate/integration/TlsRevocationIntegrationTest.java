package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.tls.TestCerts;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** validation_context.crl: revoked client certificates fail the handshake, revoked upstreams fail the connection. */
class TlsRevocationIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: mtls
          stat_prefix: mtls
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
                    crl: { filename: "${CRL_CLIENT}" }
            filters: [ ${HCM} ]
        - name: leaf_only
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
                    crl: { filename: "${CRL_CLIENT}" }
                    only_verify_leaf_cert_crl: true
            filters: [ ${HCM} ]
        clusters:
        - name: up_ok
          connect_timeout: 2s
          load_assignment:
            cluster_name: up_ok
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
                  crl: { filename: "${CRL_CLIENT}" }
        - name: up_revoked
          connect_timeout: 2s
          load_assignment:
            cluster_name: up_revoked
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
                  crl: { filename: "${CRL_UPSTREAM}" }
      """;

  static final String HCM =
      "{ name: envoy.filters.network.http_connection_manager, typed_config: {"
          + " \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager,"
          + " stat_prefix: m, http_filters: [ { name: envoy.filters.http.router, typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ],"
          + " route_config: { virtual_hosts: [ { name: v, domains: [\"*\"], routes: ["
          + " { match: { prefix: \"/up/ok\" }, route: { cluster: up_ok } },"
          + " { match: { prefix: \"/up/revoked\" }, route: { cluster: up_revoked } },"
          + " { match: { prefix: \"/\" }, direct_response: { status: 200, body: { inline_string: \"hello\" } } } ] } ] } } }";

  static TestCerts certs;
  static TestCerts.Leaf good;
  static TestCerts.Leaf revoked;
  static TestCerts.Leaf upstream;
  static Path crlClient;
  static HttpsServer up;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.get();
    TestCerts.Leaf local = certs.leaf("crl-local", "RSA", "localhost", "dns:localhost,ip:127.0.0.1");
    good = certs.leaf("crl-good", "EC", "good", "uri:spiffe://test/good");
    revoked = certs.leaf("crl-revoked", "EC", "revoked", "uri:spiffe://test/revoked");
    upstream = certs.leaf("crl-upstream", "RSA", "upstream.test", "dns:upstream.test");
    crlClient = certs.crl("client", revoked);
    Path crlUpstream = certs.crl("upstream", upstream);
    up = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    up.setHttpsConfigurator(new HttpsConfigurator(certs.serverContext(upstream)));
    up.createContext("/", ex -> {
      byte[] body = ("upstream " + ex.getRequestURI().getPath()).getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream o = ex.getResponseBody()) {
        o.write(body);
      }
    });
    up.start();
    legate = Legate.start(CONFIG, Map.of(
        "L_CERT", local.certPem(), "L_KEY", local.keyPem(), "CA", certs.caPem, "CRL_CLIENT", crlClient,
        "CRL_UPSTREAM", crlUpstream, "UP", up.getAddress().getPort(), "HCM", HCM));
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

  static String get(String listener, TestCerts.Leaf client, String path) throws Exception {
    try (SSLSocket s = (SSLSocket) certs.clientContext(client).getSocketFactory().createSocket("127.0.0.1", legate.port(listener))) {
      s.setSoTimeout(10_000);
      s.startHandshake();
      OutputStream o = s.getOutputStream();
      o.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      o.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void aRevokedClientCertificateFailsTheHandshake() throws Exception {
    long failed = legate.stat("listener.mtls.ssl.fail_verify_error");
    assertThat(get("mtls", good, "/")).startsWith("HTTP/1.1 200").endsWith("hello");
    assertThatThrownBy(() -> get("mtls", revoked, "/")).isInstanceOf(java.io.IOException.class);
    assertThat(legate.stat("listener.mtls.ssl.fail_verify_error")).isEqualTo(failed + 1);
    assertThat(get("leaf_only", good, "/")).startsWith("HTTP/1.1 200").endsWith("hello");
    assertThatThrownBy(() -> get("leaf_only", revoked, "/")).isInstanceOf(java.io.IOException.class);
  }

  @Test
  void aRevokedUpstreamCertificateFailsTheConnection() throws Exception {
    assertThat(get("mtls", good, "/up/ok")).startsWith("HTTP/1.1 200").endsWith("upstream /up/ok");
    assertThat(get("mtls", good, "/up/revoked")).startsWith("HTTP/1.1 503").contains("CERTIFICATE_VERIFY_FAILED");
    assertThat(legate.stat("cluster.up_revoked.ssl.fail_verify_error")).isEqualTo(1);
  }

  @Test
  void aCrlWithoutTrustedCaIsRefused() {
    String yaml =
        """
        static_resources:
          clusters:
          - name: c
            connect_timeout: 1s
            load_assignment:
              cluster_name: c
              endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ]
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                common_tls_context:
                  validation_context:
                    crl: { filename: "${CRL}" }
        """;
    assertThatThrownBy(() -> Legate.start(yaml, Map.of("CRL", crlClient)))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.clusters[0].transport_socket.typed_config.common_tls_context.validation_context.crl: "
            + "Failed to load CRL from " + crlClient + " without trusted CA");
  }
}

package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.tls.TestCerts;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIMatcher;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.StandardConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** auto_sni and auto_san_validation: the request's host is the SNI and must be the certificate's SAN. */
class TlsAutoSniIntegrationTest {
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
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/nosan" }
                      route: { cluster: auto_nosan }
                    - match: { prefix: "/" }
                      route: { cluster: auto }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        clusters:
        - name: auto
          connect_timeout: 2s
          load_assignment:
            cluster_name: auto
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              upstream_http_protocol_options: { auto_sni: true, auto_san_validation: true }
              explicit_http_config: { http_protocol_options: {} }
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              sni: configured.test
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
        - name: auto_nosan
          connect_timeout: 2s
          load_assignment:
            cluster_name: auto_nosan
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          upstream_http_protocol_options: { auto_sni: true }
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              common_tls_context:
                validation_context:
                  trusted_ca: { filename: "${CA}" }
      """;

  static final List<String> sni = new CopyOnWriteArrayList<>();
  static HttpsServer up;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    TestCerts certs = TestCerts.get();
    TestCerts.Leaf upstream = certs.leaf("autosni-up", "RSA", "a.auto.test", "dns:a.auto.test,dns:*.wild.auto.test");
    up = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    up.setHttpsConfigurator(new HttpsConfigurator(certs.serverContext(upstream)) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters p = getSSLContext().getDefaultSSLParameters();
        p.setSNIMatchers(List.of(new SNIMatcher(StandardConstants.SNI_HOST_NAME) {
          @Override
          public boolean matches(SNIServerName name) {
            sni.add(((SNIHostName) name).getAsciiName());
            return true;
          }
        }));
        params.setSSLParameters(p);
      }
    });
    up.createContext("/", ex -> {
      byte[] body = ("upstream " + ex.getRequestHeaders().getFirst("host")).getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream o = ex.getResponseBody()) {
        o.write(body);
      }
    });
    up.start();
    legate = Legate.start(CONFIG, Map.of("UP", up.getAddress().getPort(), "CA", certs.caPem));
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

  @Test
  void eachHostGetsItsOwnSniAndConnection() {
    String a = legate.raw("front", "GET /a HTTP/1.1\r\nHost: a.auto.test:8443\r\nConnection: close\r\n\r\n", 5000);
    assertThat(a).startsWith("HTTP/1.1 200").endsWith("upstream a.auto.test:8443");
    assertThat(sni).contains("a.auto.test").doesNotContain("configured.test");
    // Another host must not reuse the connection made for a.auto.test: a new handshake, its own SNI.
    String b = legate.raw("front", "GET /b HTTP/1.1\r\nHost: x.wild.auto.test\r\nConnection: close\r\n\r\n", 5000);
    assertThat(b).startsWith("HTTP/1.1 200").endsWith("upstream x.wild.auto.test");
    assertThat(sni).contains("x.wild.auto.test");
  }

  @Test
  void aHostTheCertificateDoesNotNameFailsWithAutoSanValidation() {
    long failed = legate.stat("cluster.auto.ssl.fail_verify_san");
    String r = legate.raw("front", "GET /c HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n", 5000);
    assertThat(r).startsWith("HTTP/1.1 503").contains("verify cert failed: SAN matcher");
    assertThat(legate.stat("cluster.auto.ssl.fail_verify_san")).isEqualTo(failed + 1);
    // Without auto_san_validation the same host is only the SNI.
    String ok = legate.raw("front", "GET /nosan HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n", 5000);
    assertThat(ok).startsWith("HTTP/1.1 200").endsWith("upstream other.test");
    assertThat(sni).contains("other.test");
  }

  @Test
  void autoSanValidationWithoutAutoSniIsRefused() {
    String yaml =
        """
        static_resources:
          clusters:
          - name: c
            connect_timeout: 1s
            load_assignment:
              cluster_name: c
              endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ]
            upstream_http_protocol_options: { auto_san_validation: true }
        """;
    assertThatThrownBy(() -> Legate.start(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.clusters[0].upstream_http_protocol_options.auto_san_validation: auto_san_validation needs auto_sni");
  }
}

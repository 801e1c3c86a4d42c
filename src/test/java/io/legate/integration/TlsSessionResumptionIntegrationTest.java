package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.tls.TestCerts;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downstream TLS session resumption: tickets and the session cache on by default, each switch off,
 * and session_ticket_keys shared by two listeners so that one's ticket resumes on the other.
 */
class TlsSessionResumptionIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - ${L_DEFAULT}
        - ${L_OFF}
        - ${L_IDS}
        - ${L_TICKETS12}
        - ${L_KEYS_A}
        - ${L_KEYS_B}
        - ${L_KEYS_C}
      """;

  static String listener(String name, String extra, String tlsParams) {
    return ("{ name: %1$s, stat_prefix: %1$s, address: { socket_address: { address: 127.0.0.1, port_value: 0 } },"
            + " filter_chains: [ { transport_socket: { name: envoy.transport_sockets.tls, typed_config: {"
            + " \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, %2$s"
            + " common_tls_context: { %3$s tls_certificates: [ { certificate_chain: { filename: \"${CERT}\" },"
            + " private_key: { filename: \"${KEY}\" } } ] } } },"
            + " filters: [ { name: envoy.filters.network.http_connection_manager, typed_config: {"
            + " \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager,"
            + " stat_prefix: %1$s, http_filters: [ { name: envoy.filters.http.router, typed_config: {"
            + " \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ],"
            + " route_config: { virtual_hosts: [ { name: v, domains: [\"*\"], routes: [ { match: { prefix: \"/\" },"
            + " direct_response: { status: 200, body: { inline_string: ok } } } ] } ] } } } ] } ] }")
        .formatted(name, extra, tlsParams);
  }

  static final String TLS12 = "tls_params: { tls_maximum_protocol_version: TLSv1_2 },";

  @TempDir static Path dir;
  static TestCerts certs;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.get();
    TestCerts.Leaf local = certs.leaf("resume-local", "RSA", "localhost", "dns:localhost,ip:127.0.0.1");
    String key = Base64.getEncoder().encodeToString(bytes(80, 1));
    String other = Base64.getEncoder().encodeToString(bytes(80, 2));
    String keys = "session_ticket_keys: { keys: [ { inline_bytes: \"" + key + "\" } ] }, disable_stateful_session_resumption: true,";
    legate = Legate.start(
        CONFIG.replace("${L_DEFAULT}", listener("dflt", "session_timeout: 600s,", ""))
            .replace("${L_OFF}", listener("none", "disable_stateless_session_resumption: true, disable_stateful_session_resumption: true,", ""))
            .replace("${L_IDS}", listener("ids", "disable_stateless_session_resumption: true,", TLS12))
            .replace("${L_TICKETS12}", listener("tickets12", "disable_stateful_session_resumption: true,", TLS12))
            .replace("${L_KEYS_A}", listener("keys_a", keys, TLS12))
            .replace("${L_KEYS_B}", listener("keys_b", keys, TLS12))
            .replace("${L_KEYS_C}", listener("keys_c", keys.replace(key, other), TLS12)),
        Map.of("CERT", local.certPem(), "KEY", local.keyPem()));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
  }

  static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (seed * 31 + i);
    }
    return b;
  }

  /** Makes a request over a new connection from {@code client}, whose session cache offers what it has. */
  static void request(SSLContext client, String listener) throws Exception {
    try (SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", legate.port(listener))) {
      s.setSoTimeout(10_000);
      OutputStream o = s.getOutputStream();
      o.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      o.flush();
      InputStream in = s.getInputStream();
      assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200").endsWith("ok");
    }
  }

  /** Returns how many of three connections from one client resumed a session. */
  static long resumed(String listener) throws Exception {
    long before = legate.stat("listener." + listener + ".ssl.session_reused");
    long handshakes = legate.stat("listener." + listener + ".ssl.handshake");
    SSLContext client = certs.clientContext(null);
    for (int i = 0; i < 3; i++) {
      request(client, listener);
    }
    assertThat(legate.stat("listener." + listener + ".ssl.handshake")).isEqualTo(handshakes + 3);
    return legate.stat("listener." + listener + ".ssl.session_reused") - before;
  }

  @Test
  void sessionsResumeByDefault() throws Exception {
    assertThat(resumed("dflt")).isEqualTo(2);
  }

  @Test
  void nothingResumesWithBothKindsDisabled() throws Exception {
    assertThat(resumed("none")).isZero();
  }

  @Test
  void eachKindAloneResumesTls12Sessions() throws Exception {
    assertThat(resumed("ids")).isEqualTo(2); // session IDs (stateful)
    assertThat(resumed("tickets12")).isEqualTo(2); // tickets (stateless)
  }

  @Test
  void aTicketResumesOnAnotherListenerWithTheSameKeys() throws Exception {
    // A real OpenSSL client carries the ticket between listeners; .ci/run installs it.
    assertThat(new File("/usr/bin/openssl").canExecute()).as("/usr/bin/openssl (Debian package openssl)").isTrue();
    Path session = dir.resolve("session.pem");
    assertThat(sClient("keys_a", "-sess_out", session)).contains("New, TLSv1.2");
    assertThat(sClient("keys_b", "-sess_in", session)).contains("Reused, TLSv1.2");
    assertThat(sClient("keys_c", "-sess_in", session)).contains("New, TLSv1.2");
    assertThat(legate.stat("listener.keys_b.ssl.session_reused")).isEqualTo(1);
    assertThat(legate.stat("listener.keys_c.ssl.session_reused")).isZero();
  }

  static String sClient(String listener, String sessionFlag, Path session) throws Exception {
    Process p = new ProcessBuilder("/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + legate.port(listener),
            "-tls1_2", sessionFlag, session.toString())
        .redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  @Test
  void badSessionSettingsNameTheField() {
    String yaml = """
        static_resources:
          listeners:
          - ${L}
        """;
    assertThatThrownBy(() -> Legate.start(yaml.replace("${L}",
            listener("bad", "session_ticket_keys: { keys: [ { inline_string: short } ] },", "")),
            Map.of("CERT", "x", "KEY", "y")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.session_ticket_keys.keys[0]: "
            + "Incorrect TLS session ticket key length. Length 5, expected length 80.");
  }
}

package io.legate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import io.legate.testing.Legate;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SDS end to end: static secrets by name, a file of secrets rotated by a ConfigMap-style symlink swap, /certs. */
class SdsIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        secrets:
        - name: static_cert
          tls_certificate:
            certificate_chain: { filename: "${S_CERT}" }
            private_key: { filename: "${S_KEY}" }
        - name: ca
          validation_context:
            trusted_ca: { filename: "${CA}" }
        listeners:
        - name: static
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs: [ { name: static_cert } ]
            filters: [ ${HCM_STATIC} ]
        - name: file
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs:
                  - name: server_cert
                    sds_config:
                      resource_api_version: V3
                      path_config_source: { path: "${SDS_FILE}", watched_directory: { path: "${SDS_DIR}" } }
            filters: [ ${HCM_FILE} ]
        - name: watched
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs:
                  - name: watched_cert
                    sds_config: { resource_api_version: V3, path_config_source: { path: "${WATCHED_FILE}" } }
            filters: [ ${HCM_FILE} ]
        clusters:
        - name: tls_up
          type: STATIC
          load_assignment:
            cluster_name: tls_up
            endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } } } ] } ]
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              common_tls_context:
                combined_validation_context:
                  default_validation_context:
                    match_typed_subject_alt_names: [ { san_type: DNS, matcher: { exact: upstream.test } } ]
                  validation_context_sds_secret_config: { name: ca }
      """;

  static String hcm(String prefix, String body) {
    return ("{ name: envoy.filters.network.http_connection_manager, typed_config: {"
            + " \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager,"
            + " stat_prefix: %s, http_filters: [ { name: envoy.filters.http.router, typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ],"
            + " route_config: { virtual_hosts: [ { name: v, domains: [\"*\"], routes: ["
            + " { match: { prefix: \"/up\" }, route: { cluster: tls_up } },"
            + " { match: { prefix: \"/\" }, direct_response: { status: 200, body: { inline_string: \"%s\" } } } ] } ] } } }")
        .formatted(prefix, body);
  }

  static TestCerts certs;
  static TestCerts.Leaf staticLeaf;
  static TestCerts.Leaf first;
  static TestCerts.Leaf second;
  static TestCerts.Leaf upstream;
  static Path sdsDir;
  static Path certDir;
  static HttpsServer up;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.get();
    staticLeaf = certs.leaf("sds-static", "RSA", "static.test", "dns:static.test");
    first = certs.leaf("sds-first", "RSA", "rotate.test", "dns:rotate.test,ip:127.0.0.1");
    second = certs.leaf("sds-second", "EC", "rotate.test", "dns:rotate.test");
    upstream = certs.leaf("upstream", "RSA", "upstream.test", "dns:upstream.test");
    up = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    up.setHttpsConfigurator(new HttpsConfigurator(certs.serverContext(upstream)));
    up.createContext("/", ex -> {
      byte[] body = "upstream".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream o = ex.getResponseBody()) {
        o.write(body);
      }
    });
    up.start();
    // Kubernetes' ConfigMap layout: secret.yaml -> ..data/secret.yaml, ..data -> ..v1
    sdsDir = Files.createTempDirectory("legate-sds");
    writeVersion("..v1", first);
    Files.createSymbolicLink(sdsDir.resolve("..data"), Path.of("..v1"));
    Files.createSymbolicLink(sdsDir.resolve("secret.yaml"), Path.of("..data/secret.yaml"));
    // a secret file that names certificate files, themselves swapped under a ..data symlink
    certDir = Files.createTempDirectory("legate-sds-certs");
    copyLeaf("..c1", first);
    Files.createSymbolicLink(certDir.resolve("..data"), Path.of("..c1"));
    Files.createSymbolicLink(certDir.resolve("tls.crt"), Path.of("..data/tls.crt"));
    Files.createSymbolicLink(certDir.resolve("tls.key"), Path.of("..data/tls.key"));
    Path watched = Files.createTempFile("legate-sds-watched", ".yaml");
    Files.writeString(
        watched,
        """
        resources:
        - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
          name: watched_cert
          tls_certificate:
            certificate_chain: { filename: "%s" }
            private_key: { filename: "%s" }
            watched_directory: { path: "%s" }
        """.formatted(certDir.resolve("tls.crt"), certDir.resolve("tls.key"), certDir));
    legate = Legate.start(CONFIG, Map.ofEntries(
        Map.entry("WATCHED_FILE", watched),
        Map.entry("S_CERT", staticLeaf.certPem()), Map.entry("S_KEY", staticLeaf.keyPem()),
        Map.entry("CA", certs.caPem), Map.entry("UP", up.getAddress().getPort()),
        Map.entry("SDS_FILE", sdsDir.resolve("secret.yaml")), Map.entry("SDS_DIR", sdsDir),
        Map.entry("HCM_STATIC", hcm("static", "static-chain")), Map.entry("HCM_FILE", hcm("file", "file-chain"))));
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

  static void writeVersion(String dir, TestCerts.Leaf leaf) throws Exception {
    Files.createDirectories(sdsDir.resolve(dir));
    Files.writeString(
        sdsDir.resolve(dir).resolve("secret.yaml"),
        """
        resources:
        - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
          name: server_cert
          tls_certificate:
            certificate_chain: { filename: "%s" }
            private_key: { filename: "%s" }
        """.formatted(leaf.certPem(), leaf.keyPem()));
  }

  /** Swaps ..data to {@code dir} atomically, as the kubelet does. */
  static void swapTo(String dir) throws Exception {
    swap(sdsDir, dir);
  }

  static void swap(Path base, String dir) throws Exception {
    Path tmp = base.resolve("..data_tmp");
    Files.createSymbolicLink(tmp, Path.of(dir));
    Files.move(tmp, base.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  static void copyLeaf(String dir, TestCerts.Leaf leaf) throws Exception {
    Files.createDirectories(certDir.resolve(dir));
    Files.copy(leaf.certPem(), certDir.resolve(dir).resolve("tls.crt"));
    Files.copy(leaf.keyPem(), certDir.resolve(dir).resolve("tls.key"));
  }

  static BigInteger serialOf(TestCerts.Leaf leaf) throws Exception {
    try (InputStream in = Files.newInputStream(leaf.certPem())) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
    }
  }

  /** A keep-alive HTTP/1.1 connection over TLS. */
  static final class Conn implements AutoCloseable {
    final SSLSocket socket;
    final BufferedReader in;

    Conn(String listener) throws Exception {
      socket = (SSLSocket) certs.clientContext(null).getSocketFactory().createSocket("127.0.0.1", legate.port(listener));
      socket.setSoTimeout(10_000);
      socket.startHandshake();
      in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
    }

    BigInteger serial() throws Exception {
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    /** Sends GET {@code path} and returns "status body". */
    String get(String path) throws Exception {
      OutputStream o = socket.getOutputStream();
      o.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      o.flush();
      String status = in.readLine();
      int length = 0;
      for (String line = in.readLine(); !line.isEmpty(); line = in.readLine()) {
        if (line.toLowerCase().startsWith("content-length:")) {
          length = Integer.parseInt(line.substring(15).trim());
        }
      }
      char[] body = new char[length];
      int n = 0;
      while (n < length) {
        n += in.read(body, n, length - n);
      }
      return status.split(" ")[1] + " " + new String(body);
    }

    @Override
    public void close() throws Exception {
      socket.close();
    }
  }

  static void eventually(Supplier<Boolean> condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.get()) {
      assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  long counter(String name) {
    return legate.server().stats().counter(name).value();
  }

  @Test
  void staticSecretServesTheListenerAndValidatesTheUpstream() throws Exception {
    try (Conn c = new Conn("static")) {
      assertThat(c.serial()).isEqualTo(serialOf(staticLeaf));
      assertThat(c.get("/")).isEqualTo("200 static-chain");
      // the cluster's combined validation context: the CA from the static secret, the SAN matcher inline
      assertThat(c.get("/up")).isEqualTo("200 upstream");
    }
  }

  @Test
  void fileSecretRotatesForNewConnectionsWithoutDroppingOpenOnes() throws Exception {
    synchronized (SdsIntegrationTest.class) {
      try (Conn old = new Conn("file")) {
        assertThat(old.serial()).isEqualTo(serialOf(first));
        assertThat(old.get("/")).isEqualTo("200 file-chain");
        long before = counter("sds.server_cert.update_success");
        writeVersion("..v2", second);
        swapTo("..v2");
        eventually(() -> counter("sds.server_cert.update_success") == before + 1);
        try (Conn fresh = new Conn("file")) {
          assertThat(fresh.serial()).isEqualTo(serialOf(second));
          assertThat(fresh.get("/")).isEqualTo("200 file-chain");
        }
        // the connection made before the rotation keeps its session and keeps working
        assertThat(old.serial()).isEqualTo(serialOf(first));
        assertThat(old.get("/")).isEqualTo("200 file-chain");

        // a version whose key does not match its certificate is refused; the current one keeps serving
        Files.createDirectories(sdsDir.resolve("..v3"));
        Files.writeString(
            sdsDir.resolve("..v3/secret.yaml"),
            """
            resources:
            - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
              name: server_cert
              tls_certificate:
                certificate_chain: { filename: "%s" }
                private_key: { filename: "%s" }
            """.formatted(first.certPem(), second.keyPem()));
        long rejected = counter("sds.server_cert.update_rejected");
        swapTo("..v3");
        eventually(() -> counter("sds.server_cert.update_rejected") == rejected + 1);
        try (Conn fresh = new Conn("file")) {
          assertThat(fresh.serial()).isEqualTo(serialOf(second));
        }
        swapTo("..v2");
      }
    }
  }

  @Test
  void certificateFilesNamedByASecretRotateWhenTheirDirectoryIsSwapped() throws Exception {
    try (Conn old = new Conn("watched")) {
      assertThat(old.serial()).isEqualTo(serialOf(first));
      copyLeaf("..c2", second);
      swap(certDir, "..c2");
      eventually(() -> {
        try (Conn fresh = new Conn("watched")) {
          return fresh.serial().equals(serialOf(second));
        } catch (Exception e) {
          return false;
        }
      });
      assertThat(old.get("/")).isEqualTo("200 file-chain");
      // a key that does not match: counted, and the current certificate keeps serving
      Files.createDirectories(certDir.resolve("..c3"));
      Files.copy(first.certPem(), certDir.resolve("..c3/tls.crt"));
      Files.copy(second.keyPem(), certDir.resolve("..c3/tls.key"));
      swap(certDir, "..c3");
      eventually(() -> counter("sds.watched_cert.key_rotation_failed") == 1);
      try (Conn fresh = new Conn("watched")) {
        assertThat(fresh.serial()).isEqualTo(serialOf(second));
      }
      assertThat(counter("sds.watched_cert.update_success")).isEqualTo(1);
    }
  }

  @Test
  void certsListsEveryContextWithEnvoysFields() throws Exception {
    HttpResponse<String> r = legate.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + legate.adminPort() + "/certs")).build());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    JsonArray all = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("certificates");
    JsonObject listener = null;
    JsonObject cluster = null;
    for (var e : all) {
      JsonObject o = e.getAsJsonObject();
      JsonArray chain = o.getAsJsonArray("cert_chain");
      if (chain.size() == 1 && chain.get(0).getAsJsonObject().get("path").getAsString().equals(staticLeaf.certPem().toString())) {
        listener = o;
      }
      if (chain.isEmpty() && o.getAsJsonArray("ca_cert").size() == 1) {
        cluster = o;
      }
    }
    assertThat(listener).as(r.body()).isNotNull();
    assertThat(listener.getAsJsonArray("ca_cert")).isEmpty();
    JsonObject leaf = listener.getAsJsonArray("cert_chain").get(0).getAsJsonObject();
    assertThat(leaf.keySet()).containsExactly(
        "path", "serial_number", "subject_alt_names", "days_until_expiration", "valid_from", "expiration_time");
    assertThat(leaf.get("serial_number").getAsString()).isEqualTo(SecretManager.serial(serialOf(staticLeaf)));
    assertThat(leaf.getAsJsonArray("subject_alt_names").toString()).isEqualTo("[{\"dns\":\"static.test\"}]");
    assertThat(leaf.get("days_until_expiration").getAsString()).isEqualTo("29");
    assertThat(leaf.get("valid_from").getAsString()).endsWith("Z");
    assertThat(cluster).as(r.body()).isNotNull();
    JsonObject ca = cluster.getAsJsonArray("ca_cert").get(0).getAsJsonObject();
    assertThat(ca.get("path").getAsString()).isEqualTo(certs.caPem.toString());
    assertThat(ca.getAsJsonArray("subject_alt_names")).isEmpty();
    eventually(() -> legate.server().stats().gauge("server.days_until_first_cert_expiring").value() == 29);
  }

  @Test
  void configDumpListsStaticAndDynamicSecrets() {
    String dump = legate.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + legate.adminPort() + "/config_dump")).build()).body();
    int at = dump.indexOf("\"@type\": \"type.googleapis.com/envoy.admin.v3.SecretsConfigDump\"");
    assertThat(at).as(dump).isPositive();
    String secrets = dump.substring(at);
    assertThat(secrets).contains("\"static_secrets\"", "\"name\": \"static_cert\"", "\"name\": \"ca\"",
        "\"dynamic_active_secrets\"", "\"name\": \"server_cert\"", "\"name\": \"watched_cert\"");
  }

  @Test
  void unknownStaticSecretsAndSessionTicketKeysAreRefused() {
    String listener =
        """
        static_resources:
          secrets:
          - name: keys
            session_ticket_keys: { keys: [ { inline_string: "x" } ] }
        """;
    assertThatThrownBy(() -> Server.validate(new Options(null, listener, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.secrets[0].session_ticket_keys: session ticket keys are not supported yet");
    String unknown =
        """
        static_resources:
          clusters:
          - name: c
            type: STATIC
            load_assignment:
              cluster_name: c
              endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ]
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs: [ { name: nope } ]
        """;
    assertThatThrownBy(() -> Server.validate(new Options(null, unknown, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name: "
                + "Unknown static secret: nope");
  }
}

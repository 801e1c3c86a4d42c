package io.legate.xds;

import static io.legate.xds.AdsIntegrationTest.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.netty.NettyServerBuilder;
import io.legate.server.Server;
import io.legate.testing.Legate;
import io.legate.tls.TestCerts;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** SDS over ADS (SotW and delta): a listener waits for its certificate, starts when it arrives, and rotates. */
class SdsAdsIntegrationTest {
  static final String BOOTSTRAP =
      """
      node: {id: n1, cluster: c1}
      dynamic_resources:
        ads_config:
          api_type: ${API}
          transport_api_version: V3
          grpc_services: [{envoy_grpc: {cluster_name: xds_cluster}}]
      static_resources:
        clusters:
        - name: xds_cluster
          type: STATIC
          typed_extension_protocol_options:
            envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
              "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
              explicit_http_config: {http2_protocol_options: {}}
          load_assignment:
            cluster_name: xds_cluster
            endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${CP}}}}}]}]
        listeners:
        - name: tls
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
          filter_chains:
          - transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs:
                  - name: server_cert
                    sds_config: ${SDS_CONFIG}
            filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: tls
                http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
                route_config:
                  virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: secured}}}]}]
      admin:
        address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      """;

  final SimpleCache<String> cache = new SimpleCache<>(node -> "all");
  final ConcurrentLinkedQueue<String> secretRequests = new ConcurrentLinkedQueue<>();
  io.grpc.Server controlPlane;

  @BeforeEach
  void startControlPlane() throws Exception {
    DiscoveryServerCallbacks callbacks =
        new DiscoveryServerCallbacks() {
          @Override
          public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
            if (request.getTypeUrl().equals(ResourceType.SECRET.typeUrl())) {
              secretRequests.add("sotw " + request.getResourceNamesList() + (request.hasErrorDetail() ? " nack" : ""));
            }
          }

          @Override
          public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
            if (request.getTypeUrl().equals(ResourceType.SECRET.typeUrl())) {
              secretRequests.add("delta " + request.getResourceNamesSubscribeList() + (request.hasErrorDetail() ? " nack" : ""));
            }
          }
        };
    V3DiscoveryServer server = new V3DiscoveryServer(callbacks, cache);
    controlPlane =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(server.getAggregatedDiscoveryServiceImpl())
            .addService(server.getSecretDiscoveryServiceImpl())
            .build()
            .start();
  }

  @AfterEach
  void stopControlPlane() {
    controlPlane.shutdownNow();
  }

  static Secret secret(TestCerts.Leaf leaf) throws Exception {
    return AdsIntegrationTest.parse(
        "{name: server_cert, tls_certificate: {certificate_chain: {inline_string: \"%s\"}, private_key: {inline_string: \"%s\"}}}"
            .formatted(Files.readString(leaf.certPem()).replace("\n", "\\n"), Files.readString(leaf.keyPem()).replace("\n", "\\n")),
        Secret.newBuilder());
  }

  void push(String version, List<Secret> secrets) {
    cache.setSnapshot("all", Snapshot.create(List.of(), List.of(), List.of(), List.of(), secrets, version));
  }

  static BigInteger serialOf(TestCerts.Leaf leaf) throws Exception {
    try (InputStream in = Files.newInputStream(leaf.certPem())) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
    }
  }

  /** Connects over TLS; returns the server certificate's serial and the response to GET /. */
  static String exchange(int port, int timeoutMs) throws Exception {
    try (SSLSocket s = (SSLSocket) TestCerts.get().clientContext(null).getSocketFactory().createSocket("127.0.0.1", port)) {
      s.setSoTimeout(timeoutMs);
      s.startHandshake();
      BigInteger serial = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
      OutputStream o = s.getOutputStream();
      o.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      o.flush();
      String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      return serial.toString(16) + " " + response.substring(0, response.indexOf("\r\n")) + " " + response.substring(response.lastIndexOf('\n') + 1);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"ads GRPC", "ads DELTA_GRPC", "api GRPC", "api DELTA_GRPC"})
  void listenerWarmsUntilItsCertificateArrivesThenRotates(String source) throws Exception {
    String api = source.substring(4);
    String sdsConfig =
        source.startsWith("ads")
            ? "{ads: {}, resource_api_version: V3}"
            : "{resource_api_version: V3, api_config_source: {api_type: " + api
                + ", transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds_cluster}}]}}";
    TestCerts certs = TestCerts.get();
    TestCerts.Leaf one = certs.leaf("sds-ads-1", "RSA", "ads.test", "dns:ads.test");
    TestCerts.Leaf two = certs.leaf("sds-ads-2", "EC", "ads.test", "dns:ads.test");
    push("v0", List.of());
    try (Legate legate = Legate.start(BOOTSTRAP, Map.of("CP", controlPlane.getPort(), "API", api, "SDS_CONFIG", sdsConfig))) {
      Server s = legate.server();
      int port = s.listenerAddress("tls").getPort();
      eventually(() -> !secretRequests.isEmpty());
      assertThat(secretRequests.peek()).isEqualTo((api.equals("GRPC") ? "sotw" : "delta") + " [server_cert]");
      // warming: the socket is bound but no TLS handshake is answered
      assertThatThrownBy(() -> exchange(port, 500)).isInstanceOf(java.net.SocketTimeoutException.class);

      push("v1", List.of(secret(one)));
      eventually(() -> s.stats().counter("sds.server_cert.update_success").value() == 1);
      assertThat(exchange(port, 10_000)).isEqualTo(serialOf(one).toString(16) + " HTTP/1.1 200 OK secured");

      // rotation over the control plane: new connections get the new certificate
      push("v2", List.of(secret(two)));
      eventually(() -> s.stats().counter("sds.server_cert.update_success").value() == 2);
      assertThat(exchange(port, 10_000)).isEqualTo(serialOf(two).toString(16) + " HTTP/1.1 200 OK secured");

      // a secret whose key does not match its certificate is NACKed; the current one keeps serving
      Secret bad = secret(one).toBuilder()
          .setTlsCertificate(secret(one).getTlsCertificate().toBuilder().setPrivateKey(secret(two).getTlsCertificate().getPrivateKey()))
          .build();
      push("v3", List.of(bad));
      // (java-control-plane answers a SotW NACK with the same version again: count at least one)
      eventually(() -> s.stats().counter("sds.server_cert.update_rejected").value() >= 1);
      eventually(() -> secretRequests.stream().anyMatch(r -> r.endsWith("nack")));
      assertThat(exchange(port, 10_000)).isEqualTo(serialOf(two).toString(16) + " HTTP/1.1 200 OK secured");
    }
  }
}

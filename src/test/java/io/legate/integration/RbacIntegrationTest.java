package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.legate.tls.TestCerts;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.rbac and envoy.filters.network.rbac in a whole server, plaintext and mTLS. */
class RbacIntegrationTest {
  static final String HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  static final String RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
  static final String RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
  static final String NET_RBAC = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";
  static final String ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

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
                "@type": %1$s
                stat_prefix: ingress
                access_log:
                - name: envoy.access_loggers.file
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                    path: ${LOG}
                    log_format:
                      text_format_source:
                        inline_string: "%%REQ(:PATH)%% %%RESPONSE_CODE%% %%RESPONSE_CODE_DETAILS%%\\n"
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /open }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.rbac: { "@type": %3$s }
                    - match: { prefix: /strict }
                      route: { cluster: up }
                      typed_per_filter_config:
                        envoy.filters.http.rbac:
                          "@type": %3$s
                          rbac:
                            rules:
                              action: DENY
                              policies:
                                deny all:
                                  permissions: [ { any: true } ]
                                  principals: [ { any: true } ]
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.rbac
                  typed_config:
                    "@type": %2$s
                    shadow_rules_stat_prefix: "my_shadow."
                    rules:
                      action: ALLOW
                      policies:
                        get-public:
                          permissions:
                          - and_rules:
                              rules:
                              - header: { name: ":method", string_match: { exact: GET } }
                              - url_path: { path: { prefix: /public } }
                          principals: [ { any: true } ]
                        admin-header:
                          permissions: [ { any: true } ]
                          principals: [ { header: { name: x-role, string_match: { exact: admin } } } ]
                        local-only:
                          permissions: [ { url_path: { path: { prefix: /local } } } ]
                          principals: [ { source_ip: { address_prefix: 127.0.0.1, prefix_len: 32 } } ]
                        internal-only:
                          permissions: [ { url_path: { path: { prefix: /internal } } } ]
                          principals: [ { remote_ip: { address_prefix: 10.0.0.0, prefix_len: 8 } } ]
                    shadow_rules:
                      action: DENY
                      policies:
                        no-post:
                          permissions: [ { header: { name: ":method", string_match: { exact: POST } } } ]
                          principals: [ { any: true } ]
                - name: envoy.filters.http.router
                  typed_config: { "@type": %4$s }
        - name: edge
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: edge
                use_remote_address: true
                xff_num_trusted_hops: 1
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.rbac
                  typed_config:
                    "@type": %2$s
                    rules:
                      action: ALLOW
                      policies:
                        internal-clients:
                          permissions: [ { url_path: { path: { prefix: /internal } } } ]
                          principals: [ { remote_ip: { address_prefix: 10.0.0.0, prefix_len: 8 } } ]
                        local-peer:
                          permissions: [ { url_path: { path: { prefix: /direct } } } ]
                          principals: [ { direct_remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } } ]
                - name: envoy.filters.http.router
                  typed_config: { "@type": %4$s }
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
            filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: mtls
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.rbac
                  typed_config:
                    "@type": %2$s
                    rules_stat_prefix: "mesh."
                    rules:
                      action: ALLOW
                      policies:
                        spiffe-client:
                          permissions: [ { any: true } ]
                          principals: [ { authenticated: { principal_name: { exact: "spiffe://test/rbac/1" } } } ]
                        dns-client:
                          permissions: [ { any: true } ]
                          principals: [ { authenticated: { principal_name: { suffix: ".rbac.test" } } } ]
                - name: envoy.filters.http.router
                  typed_config: { "@type": %4$s }
        - name: mtls-net
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
            filters:
            - name: envoy.filters.network.rbac
              typed_config:
                "@type": %5$s
                stat_prefix: mtls_net
                rules:
                  action: ALLOW
                  policies:
                    spiffe-client:
                      permissions: [ { any: true } ]
                      principals: [ { authenticated: { principal_name: { prefix: "spiffe://test/rbac/" } } } ]
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: mtls_net
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: { "@type": %4$s }
        - name: tcp-deny
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.rbac
              typed_config:
                "@type": %5$s
                stat_prefix: tcp_deny.
                rules:
                  action: ALLOW
                  policies:
                    from-10:
                      permissions: [ { any: true } ]
                      principals: [ { source_ip: { address_prefix: 10.0.0.0, prefix_len: 8 } } ]
                shadow_rules:
                  action: ALLOW
                  policies:
                    from-loopback:
                      permissions: [ { any: true } ]
                      principals: [ { direct_remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } } ]
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp_deny
                cluster: up
        - name: tcp-allow
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.rbac
              typed_config:
                "@type": %5$s
                stat_prefix: tcp_allow
                rules:
                  action: DENY
                  policies:
                    from-10:
                      permissions: [ { any: true } ]
                      principals: [ { source_ip: { address_prefix: 10.0.0.0, prefix_len: 8 } } ]
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp_allow
                cluster: up
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """.formatted(HCM, RBAC, RBAC_PER_ROUTE, ROUTER, NET_RBAC);

  static TestUpstream up;
  static Legate legate;
  static TestCerts certs;
  static TestCerts.Leaf spiffeClient;
  static TestCerts.Leaf dnsClient;
  static TestCerts.Leaf otherClient;
  static Path log;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.get();
    TestCerts.Leaf local = certs.leaf("rbac-local", "RSA", "localhost", "dns:localhost,ip:127.0.0.1");
    spiffeClient = certs.leaf("rbac-spiffe", "EC", "spiffe", "uri:spiffe://test/rbac/1");
    dnsClient = certs.leaf("rbac-dns", "EC", "dns", "dns:svc.rbac.test");
    otherClient = certs.leaf("rbac-other", "EC", "other", "uri:spiffe://other/x");
    log = Files.createTempFile("rbac", ".log");
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of(
        "UP", up.port(), "LOG", log, "L_CERT", local.certPem(), "L_KEY", local.keyPem(), "CA", certs.caPem));
  }

  @AfterAll
  static void stop() throws Exception {
    if (legate != null) {
      legate.close();
    }
    if (up != null) {
      up.close();
    }
    Files.deleteIfExists(log);
  }

  @Test
  void allowPoliciesByMethodPathHeaderAndSourceIp() throws Exception {
    long allowed = legate.stat("http.ingress.rbac.allowed");
    long denied = legate.stat("http.ingress.rbac.denied");
    assertThat(legate.get("front", "/public/a").statusCode()).isEqualTo(200);
    HttpResponse<String> post = legate.send(java.net.http.HttpRequest.newBuilder(legate.uri("front", "/public/a"))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("x")).build());
    assertThat(post.statusCode()).isEqualTo(403);
    assertThat(post.body()).isEqualTo("RBAC: access denied");
    assertThat(legate.get("front", "/private").statusCode()).isEqualTo(403);
    assertThat(legate.get("front", "/private", "x-role", "admin").statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/local/x").statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/internal/x").statusCode()).isEqualTo(403);
    assertThat(legate.stat("http.ingress.rbac.allowed") - allowed).isEqualTo(3);
    assertThat(legate.stat("http.ingress.rbac.denied") - denied).isEqualTo(3);
    assertThat(awaitLog("/private 403")).isEqualTo("/private 403 rbac_access_denied_matched_policy[none]");
  }

  @Test
  void remoteIpIsTheClientFromXffWithoutUseRemoteAddress() {
    // use_remote_address false, no trusted hops: the client is the last XFF address (as Envoy).
    assertThat(legate.get("front", "/internal/x", "x-forwarded-for", "10.9.9.9").statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/internal/x", "x-forwarded-for", "10.9.9.9, 192.168.0.1").statusCode()).isEqualTo(403);
    assertThat(legate.get("front", "/internal/x", "x-forwarded-for", "not-an-ip").statusCode()).isEqualTo(403);
  }

  @Test
  void remoteIpFollowsTrustedHopsWhileDirectRemoteIpStaysThePeer() {
    // One trusted hop: the client is the rightmost XFF address; the peer is 127.0.0.1.
    assertThat(legate.get("edge", "/internal/x", "x-forwarded-for", "192.168.1.1, 10.1.2.3").statusCode()).isEqualTo(200);
    assertThat(legate.get("edge", "/internal/x", "x-forwarded-for", "10.1.2.3, 192.168.1.1").statusCode()).isEqualTo(403);
    assertThat(legate.get("edge", "/internal/x").statusCode()).isEqualTo(403);
    assertThat(legate.get("edge", "/direct/x", "x-forwarded-for", "10.1.2.3").statusCode()).isEqualTo(200);
    assertThat(legate.get("edge", "/direct/x").statusCode()).isEqualTo(200);
  }

  @Test
  void shadowRulesAreOnlyCounted() {
    long shadowAllowed = legate.stat("http.ingress.rbac.my_shadow.shadow_allowed");
    long shadowDenied = legate.stat("http.ingress.rbac.my_shadow.shadow_denied");
    // POST is denied by the shadow rules but allowed by the admin header.
    HttpResponse<String> r = legate.send(java.net.http.HttpRequest.newBuilder(legate.uri("front", "/x"))
        .header("x-role", "admin").POST(java.net.http.HttpRequest.BodyPublishers.ofString("x")).build());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(legate.get("front", "/public/b").statusCode()).isEqualTo(200);
    assertThat(legate.stat("http.ingress.rbac.my_shadow.shadow_denied") - shadowDenied).isEqualTo(1);
    assertThat(legate.stat("http.ingress.rbac.my_shadow.shadow_allowed") - shadowAllowed).isEqualTo(1);
  }

  @Test
  void perRouteConfigDisablesOrReplacesTheRules() throws Exception {
    long allowed = legate.stat("http.ingress.rbac.allowed");
    long denied = legate.stat("http.ingress.rbac.denied");
    // An empty RBACPerRoute: no rules, everything passes, nothing counted.
    assertThat(legate.get("front", "/open/x").statusCode()).isEqualTo(200);
    // The route's own rules deny even what the filter's rules would allow.
    HttpResponse<String> r = legate.get("front", "/strict/public", "x-role", "admin");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("RBAC: access denied");
    assertThat(legate.stat("http.ingress.rbac.allowed") - allowed).isEqualTo(0);
    assertThat(legate.stat("http.ingress.rbac.denied") - denied).isEqualTo(1);
    assertThat(awaitLog("/strict/public 403")).isEqualTo("/strict/public 403 rbac_access_denied_matched_policy[deny_all]");
  }

  @Test
  void mtlsPrincipalsMatchUriSanThenDnsSan() throws Exception {
    assertThat(tlsGet("mtls", spiffeClient)).startsWith("HTTP/1.1 200");
    assertThat(tlsGet("mtls", dnsClient)).startsWith("HTTP/1.1 200");
    String denied = tlsGet("mtls", otherClient);
    assertThat(denied).startsWith("HTTP/1.1 403").endsWith("RBAC: access denied");
    assertThat(legate.stat("http.mtls.rbac.mesh.allowed")).isEqualTo(2);
    assertThat(legate.stat("http.mtls.rbac.mesh.denied")).isEqualTo(1);
  }

  @Test
  void networkRbacClosesADeniedTlsConnectionBeforeHttp() throws Exception {
    assertThat(tlsGet("mtls-net", spiffeClient)).startsWith("HTTP/1.1 200");
    assertThat(tlsGet("mtls-net", otherClient)).isEmpty();
    assertThat(legate.stat("mtls_net.rbac.allowed")).isEqualTo(1);
    assertThat(legate.stat("mtls_net.rbac.denied")).isEqualTo(1);
    assertThat(legate.stat("http.mtls_net.downstream_rq_total")).isEqualTo(1);
  }

  @Test
  void networkRbacClosesADeniedConnectionAndPassesAnAllowedOne() {
    String denied = legate.raw("tcp-deny", "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 5000);
    assertThat(denied).isEmpty();
    assertThat(legate.stat("tcp_deny.rbac.denied")).isEqualTo(1);
    assertThat(legate.stat("tcp_deny.rbac.allowed")).isEqualTo(0);
    assertThat(legate.stat("tcp_deny.rbac.shadow_allowed")).isEqualTo(1);
    assertThat(legate.stat("tcp_deny.rbac.shadow_denied")).isEqualTo(0);
    String allowed = legate.raw("tcp-allow", "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 5000);
    assertThat(allowed).startsWith("HTTP/1.1 200").contains("GET /x HTTP/1.1");
    assertThat(legate.stat("tcp_allow.rbac.allowed")).isEqualTo(1);
    assertThat(legate.stat("tcp_allow.rbac.denied")).isEqualTo(0);
  }

  static final String BAD =
      """
      static_resources:
        listeners:
        - name: bad
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: ${FILTER}
              typed_config:
                "@type": %s
                stat_prefix: bad
                rules:
                  action: ALLOW
                  policies:
                    p:
                      permissions: [ { metadata: { filter: f, path: [ { key: k } ], value: { string_match: { exact: v } } } } ]
                      principals: [ { any: true } ]
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: bad
                cluster: up
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } }
      """;

  @Test
  void unknownNetworkFiltersAndUnsupportedRulesAreRefused() {
    String mongo = BAD.formatted("type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy");
    String yaml = cut(mongo, "rules:");
    assertThatThrownBy(() -> Legate.start(yaml, Map.of("FILTER", "envoy.filters.network.mongo_proxy")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].filters[0]: unsupported network filter "
            + "'envoy.filters.network.mongo_proxy' (type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy); "
            + "supported: envoy.filters.network.http_connection_manager, envoy.filters.network.tcp_proxy, "
            + "envoy.filters.network.local_ratelimit, envoy.filters.network.rbac");
    assertThatThrownBy(() -> Legate.start(BAD.formatted(NET_RBAC), Map.of("FILTER", "envoy.filters.network.rbac")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].filters[0].typed_config.rules"
            + ".policies[\"p\"].permissions[0].metadata: metadata permissions are not supported");
  }

  @Test
  void aNetworkFilterWithoutTypedConfigIsFoundByNameOrNamed() {
    String noConfig = BAD.formatted(NET_RBAC);
    String yaml = cut(noConfig, "typed_config:");
    assertThatThrownBy(() -> Legate.start(yaml, Map.of("FILTER", "envoy.filters.network.nope")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].filters[0]: unsupported network filter "
            + "'envoy.filters.network.nope'; supported: "
            + "envoy.filters.network.http_connection_manager, envoy.filters.network.tcp_proxy, "
            + "envoy.filters.network.local_ratelimit, envoy.filters.network.rbac");
    assertThatThrownBy(() -> Legate.start(yaml, Map.of("FILTER", "envoy.filters.network.rbac")))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefix: must not be empty");
  }

  /** Removes the lines from the one holding {@code from} up to the tcp_proxy filter. */
  static String cut(String yaml, String from) {
    int a = yaml.lastIndexOf('\n', yaml.indexOf(from)) + 1;
    int b = yaml.lastIndexOf('\n', yaml.indexOf("- name: envoy.filters.network.tcp_proxy")) + 1;
    return yaml.substring(0, a) + yaml.substring(b);
  }

  static String tlsGet(String listener, TestCerts.Leaf client) throws Exception {
    try (SSLSocket s = (SSLSocket) certs.clientContext(client).getSocketFactory()
        .createSocket("127.0.0.1", legate.port(listener))) {
      s.setSoTimeout(10_000);
      s.startHandshake();
      OutputStream o = s.getOutputStream();
      o.write("GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      o.flush();
      InputStream in = s.getInputStream();
      try {
        return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
      } catch (java.io.IOException e) {
        return "";
      }
    }
  }

  static String awaitLog(String prefix) throws Exception {
    for (int i = 0; i < 200; i++) {
      for (String line : Files.readAllLines(log)) {
        if (line.startsWith(prefix)) {
          return line;
        }
      }
      Thread.sleep(20);
    }
    return "";
  }
}

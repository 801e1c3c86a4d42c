package io.legate.rbac;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.rbac.v3.RBAC;
import io.legate.config.ConfigException;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class RbacEngineTest {
  record Input(
      InetSocketAddress directRemoteAddress,
      InetSocketAddress remoteAddress,
      InetSocketAddress localAddress,
      PeerIdentity peer,
      Http2Headers headers) implements RbacInput {}

  static RbacEngine engine(String json) {
    RBAC.Builder b = RBAC.newBuilder();
    try {
      JsonFormat.parser().merge(json, b);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    return RbacEngine.build(b.build(), "rules");
  }

  static Input http(String remote, String method, String path, String... headers) {
    Http2Headers h = new DefaultHttp2Headers().method(method).path(path).authority("x").scheme("http");
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    InetSocketAddress r = new InetSocketAddress(remote, 40000);
    return new Input(r, r, new InetSocketAddress("127.0.0.1", 10000), PeerIdentity.NONE, h);
  }

  static Input tls(PeerIdentity peer) {
    InetSocketAddress r = new InetSocketAddress("10.0.0.1", 40000);
    return new Input(r, r, new InetSocketAddress("127.0.0.1", 8443), peer, null);
  }

  static String decide(RbacEngine e, RbacInput in) {
    RbacEngine.CompiledPolicy m = e.match(in);
    return (e.allowed(m) ? "allowed " : "denied ") + (m == null ? "-" : m.name());
  }

  @Test
  void allowMatchesPermissionAndPrincipalAndDeniesTheRest() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {
          "get-public": {
            "permissions": [{"and_rules": {"rules": [
              {"header": {"name": ":method", "string_match": {"exact": "GET"}}},
              {"url_path": {"path": {"prefix": "/public"}}}]}}],
            "principals": [{"any": true}]},
          "admins": {
            "permissions": [{"any": true}],
            "principals": [{"header": {"name": "x-role", "string_match": {"exact": "admin"}}}]}}}
        """);
    assertThat(decide(e, http("10.0.0.1", "GET", "/public/a?x=1"))).isEqualTo("allowed get-public");
    assertThat(decide(e, http("10.0.0.1", "POST", "/public/a"))).isEqualTo("denied -");
    assertThat(decide(e, http("10.0.0.1", "GET", "/private"))).isEqualTo("denied -");
    // Policies are tried in name order: "admins" before "get-public".
    assertThat(decide(e, http("10.0.0.1", "GET", "/public", "x-role", "admin"))).isEqualTo("allowed admins");
    assertThat(RbacEngine.deniedDetails(e.match(http("10.0.0.1", "GET", "/x"))))
        .isEqualTo("rbac_access_denied_matched_policy[none]");
  }

  @Test
  void urlPathIgnoresQueryAndFragment() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {"p": {
          "permissions": [{"url_path": {"path": {"exact": "/a"}}}], "principals": [{"any": true}]}}}
        """);
    assertThat(decide(e, http("10.0.0.1", "GET", "/a?b=c"))).isEqualTo("allowed p");
    assertThat(decide(e, http("10.0.0.1", "GET", "/a#f"))).isEqualTo("allowed p");
    assertThat(decide(e, http("10.0.0.1", "GET", "/ab"))).isEqualTo("denied -");
  }

  @Test
  void denyDeniesWhatMatchesAndNamesThePolicy() {
    RbacEngine e = engine("""
        {"action": "DENY", "policies": {"block net": {
          "permissions": [{"not_rule": {"url_path": {"path": {"exact": "/health"}}}}],
          "principals": [{"or_ids": {"ids": [
            {"source_ip": {"address_prefix": "192.168.0.0", "prefix_len": 16}},
            {"direct_remote_ip": {"address_prefix": "10.1.2.3"}}]}}]}}}
        """);
    RbacEngine.CompiledPolicy m = e.match(http("192.168.7.9", "GET", "/x"));
    assertThat(e.allowed(m)).isFalse();
    assertThat(RbacEngine.deniedDetails(m)).isEqualTo("rbac_access_denied_matched_policy[block_net]");
    assertThat(decide(e, http("10.1.2.3", "GET", "/x"))).isEqualTo("denied block net");
    assertThat(decide(e, http("10.1.2.4", "GET", "/x"))).isEqualTo("allowed -");
    assertThat(decide(e, http("192.168.7.9", "GET", "/health"))).isEqualTo("allowed -");
  }

  @Test
  void logAllowsEverything() {
    RbacEngine e = engine("""
        {"action": "LOG", "policies": {"p": {"permissions": [{"any": true}], "principals": [{"any": true}]}}}
        """);
    assertThat(decide(e, http("10.0.0.1", "GET", "/"))).isEqualTo("allowed p");
    assertThat(e.action()).isEqualTo(RbacEngine.Action.LOG);
  }

  @Test
  void destinationPortRangeIpAndServerName() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {
          "port": {"permissions": [{"destination_port": 8443}], "principals": [{"any": true}]},
          "range": {"permissions": [{"destination_port_range": {"start": 9000, "end": 9100}}], "principals": [{"any": true}]},
          "sni": {"permissions": [{"and_rules": {"rules": [
              {"requested_server_name": {"suffix": ".example.com"}},
              {"destination_ip": {"address_prefix": "127.0.0.0", "prefix_len": 8}}]}}],
            "principals": [{"any": true}]}}}
        """);
    assertThat(decide(e, tls(PeerIdentity.NONE))).isEqualTo("allowed port");
    InetSocketAddress r = new InetSocketAddress("10.0.0.1", 1);
    assertThat(decide(e, new Input(r, r, new InetSocketAddress("127.0.0.1", 9099), PeerIdentity.NONE, null)))
        .isEqualTo("allowed range");
    assertThat(decide(e, new Input(r, r, new InetSocketAddress("127.0.0.1", 9100), PeerIdentity.NONE, null)))
        .isEqualTo("denied -");
    PeerIdentity sni = new PeerIdentity(true, "api.example.com", false, List.of(), List.of(), "");
    assertThat(decide(e, new Input(r, r, new InetSocketAddress("127.0.0.2", 1), sni, null))).isEqualTo("allowed sni");
    assertThat(decide(e, new Input(r, r, new InetSocketAddress("10.0.0.2", 1), sni, null))).isEqualTo("denied -");
  }

  @Test
  void authenticatedMatchesUriSanThenDnsSanThenSubject() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {
          "spiffe": {"permissions": [{"any": true}],
            "principals": [{"authenticated": {"principal_name": {"exact": "spiffe://test/client/1"}}}]},
          "dns": {"permissions": [{"any": true}],
            "principals": [{"authenticated": {"principal_name": {"suffix": ".svc.local"}}}]},
          "subject": {"permissions": [{"any": true}],
            "principals": [{"authenticated": {"principal_name": {"exact": "CN=legacy,O=Acme"}}}]}}}
        """);
    assertThat(decide(e, tls(new PeerIdentity(true, "", true, List.of("spiffe://test/client/1"), List.of(), "CN=x"))))
        .isEqualTo("allowed spiffe");
    assertThat(decide(e, tls(new PeerIdentity(true, "", true, List.of("spiffe://other"), List.of("a.svc.local"), "CN=x"))))
        .isEqualTo("allowed dns");
    assertThat(decide(e, tls(new PeerIdentity(true, "", true, List.of(), List.of(), "CN=legacy,O=Acme"))))
        .isEqualTo("allowed subject");
    assertThat(decide(e, tls(new PeerIdentity(true, "", true, List.of("spiffe://other"), List.of(), "CN=x"))))
        .isEqualTo("denied -");
    assertThat(decide(e, tls(PeerIdentity.NONE))).isEqualTo("denied -");
  }

  @Test
  void authenticatedWithoutPrincipalNameMatchesAnyTlsConnection() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {"tls": {"permissions": [{"any": true}],
          "principals": [{"authenticated": {}}]}}}
        """);
    assertThat(decide(e, tls(new PeerIdentity(true, "", false, List.of(), List.of(), "")))).isEqualTo("allowed tls");
    assertThat(decide(e, tls(PeerIdentity.NONE))).isEqualTo("denied -");
  }

  @Test
  void remoteIpAndNotId() {
    RbacEngine e = engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"any": true}],
          "principals": [{"and_ids": {"ids": [
            {"remote_ip": {"address_prefix": "10.0.0.0", "prefix_len": 8}},
            {"not_id": {"remote_ip": {"address_prefix": "10.9.0.0", "prefix_len": 16}}}]}}]}}}
        """);
    assertThat(decide(e, http("10.1.0.1", "GET", "/"))).isEqualTo("allowed p");
    assertThat(decide(e, http("10.9.0.1", "GET", "/"))).isEqualTo("denied -");
    assertThat(decide(e, http("::1", "GET", "/"))).isEqualTo("denied -");
  }

  @Test
  void headerRulesNeverMatchWithoutARequest() {
    RbacEngine e = engine("""
        {"action": "DENY", "policies": {"p": {"permissions": [{"header": {"name": "x", "present_match": true}}],
          "principals": [{"any": true}]}}}
        """);
    assertThat(decide(e, tls(PeerIdentity.NONE))).isEqualTo("allowed -");
  }

  @Test
  void unsupportedRulesAreRefusedByPath() {
    assertThatThrownBy(() -> engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"metadata": {"filter": "f"}}],
          "principals": [{"any": true}]}}}
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("rules.policies[\"p\"].permissions[0].metadata: metadata permissions are not supported");
    assertThatThrownBy(() -> engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"any": true}],
          "principals": [{"or_ids": {"ids": [{"any": true}, {"filter_state": {"key": "k"}}]}}]}}}
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("rules.policies[\"p\"].principals[0].or_ids.ids[1].filter_state: filter_state principals are not supported");
    assertThatThrownBy(() -> engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"url_path": {"path": {"safe_regex": {"regex": "a("}}}}],
          "principals": [{"any": true}]}}}
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("rules.policies[\"p\"].permissions[0].url_path.path.safe_regex.regex: invalid regex 'a(': ");
    assertThatThrownBy(() -> engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"any": true}]}}}
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("rules.policies[\"p\"].principals: a policy needs at least one principal");
    assertThatThrownBy(() -> engine("""
        {"action": "ALLOW", "policies": {"p": {"permissions": [{"destination_ip": {"address_prefix": "example.com"}}],
          "principals": [{"any": true}]}}}
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("rules.policies[\"p\"].permissions[0].destination_ip.address_prefix: malformed IP address: example.com");
  }
}

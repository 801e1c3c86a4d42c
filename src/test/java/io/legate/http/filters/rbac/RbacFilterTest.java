package io.legate.http.filters.rbac;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.http.filter.HttpFilter;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

class RbacFilterTest {
  final StatsStore stats = new StatsStore();
  final FactoryContext ctx =
      new FactoryContext() {
        @Override
        public StatsStore stats() {
          return stats;
        }

        @Override
        public StatsStore.Scope scope() {
          return stats.scope("http.ingress.");
        }

        @Override
        public ClusterManager clusterManager() {
          return null;
        }

        @Override
        public String filterConfigName() {
          return "envoy.filters.http.rbac";
        }
      };

  HttpFilter.Factory factory(String yaml) {
    RBAC p = ConfigLoader.parse(yaml, RBAC.newBuilder(), "test").build();
    return new RbacFilterFactory().create(Any.pack(p), ctx, "http_filters[0]");
  }

  static Http2Headers get(String path) {
    return new DefaultHttp2Headers().method("GET").path(path).scheme("http").authority("a");
  }

  FakeFilterCallbacks run(HttpFilter.Factory f, Http2Headers h, HttpFilter.Status expected) {
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    HttpFilter filter = f.create();
    filter.setDecoderCallbacks(cb);
    assertThat(filter.decodeHeaders(h, true)).isEqualTo(expected);
    return cb;
  }

  @Test
  void denyAnswers403WithThePolicyInTheDetails() {
    HttpFilter.Factory f = factory("""
        rules:
          action: DENY
          policies:
            "no admin":
              permissions: [ { url_path: { path: { prefix: /admin } } } ]
              principals: [ { any: true } ]
        """);
    FakeFilterCallbacks denied = run(f, get("/admin/x"), HttpFilter.Status.STOP_ITERATION);
    assertThat(denied.localReply)
        .isEqualTo(new FakeFilterCallbacks.LocalReply(403, "RBAC: access denied", null, -1,
            "rbac_access_denied_matched_policy[no_admin]"));
    assertThat(run(f, get("/user"), HttpFilter.Status.CONTINUE).localReply).isNull();
    assertThat(stats.counter("http.ingress.rbac.denied").value()).isEqualTo(1);
    assertThat(stats.counter("http.ingress.rbac.allowed").value()).isEqualTo(1);
  }

  @Test
  void logAllowsAndCountsLoggedAndNotLogged() {
    HttpFilter.Factory f = factory("""
        rules_stat_prefix: "audit."
        rules:
          action: LOG
          policies:
            log-admin:
              permissions: [ { url_path: { path: { prefix: /admin } } } ]
              principals: [ { any: true } ]
        """);
    run(f, get("/admin"), HttpFilter.Status.CONTINUE);
    run(f, get("/other"), HttpFilter.Status.CONTINUE);
    run(f, get("/other"), HttpFilter.Status.CONTINUE);
    assertThat(stats.counter("http.ingress.rbac.audit.logged").value()).isEqualTo(1);
    assertThat(stats.counter("http.ingress.rbac.audit.not_logged").value()).isEqualTo(2);
    assertThat(stats.counter("http.ingress.rbac.audit.allowed").value()).isEqualTo(3);
  }

  @Test
  void withoutRulesOnlyShadowRulesAreCounted() {
    HttpFilter.Factory f = factory("""
        shadow_rules:
          action: ALLOW
          policies:
            p:
              permissions: [ { header: { name: ":method", string_match: { exact: GET } } } ]
              principals: [ { any: true } ]
        """);
    run(f, get("/"), HttpFilter.Status.CONTINUE);
    run(f, new DefaultHttp2Headers().method("PUT").path("/"), HttpFilter.Status.CONTINUE);
    assertThat(stats.counter("http.ingress.rbac.shadow_allowed").value()).isEqualTo(1);
    assertThat(stats.counter("http.ingress.rbac.shadow_denied").value()).isEqualTo(1);
    assertThat(stats.counter("http.ingress.rbac.allowed").value()).isEqualTo(0);
  }

  @Test
  void plaintextConnectionsAreNotAuthenticated() {
    HttpFilter.Factory f = factory("""
        rules:
          action: ALLOW
          policies:
            mtls:
              permissions: [ { any: true } ]
              principals: [ { authenticated: {} } ]
        """);
    assertThat(run(f, get("/"), HttpFilter.Status.STOP_ITERATION).localReply.details())
        .isEqualTo("rbac_access_denied_matched_policy[none]");
  }

  @Test
  void matchersAndPerRuleStatsAreRefused() {
    assertThatThrownBy(() -> factory("""
        matcher: { on_no_match: { action: { name: a, typed_config: { "@type": type.googleapis.com/envoy.config.rbac.v3.Action, name: x } } } }
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("http_filters[0].typed_config.matcher: RBAC matchers are not supported; use rules");
    assertThatThrownBy(() -> factory("track_per_rule_stats: true"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("http_filters[0].typed_config.track_per_rule_stats: per-rule stats are not supported");
    assertThatThrownBy(() -> factory("""
        rules:
          policies:
            p:
              permissions: [ { any: true } ]
              principals: [ { any: true } ]
              condition: { const_expr: { bool_value: true } }
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage("http_filters[0].typed_config.rules.policies[\"p\"].condition: CEL conditions are not supported");
  }
}

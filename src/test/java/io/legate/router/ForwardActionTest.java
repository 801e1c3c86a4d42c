package io.legate.router;

import static io.legate.router.Fixtures.req;
import static io.legate.router.Fixtures.routes;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardActionTest {
  private static ForwardAction action(String match, String routeAction) {
    RouteTable t = routes("[{\"name\":\"r\",\"match\":" + match + ",\"route\":" + routeAction + "}]");
    Route r = null;
    for (String p : new String[] {"/", "/x", "/x/"}) {
      r = r != null ? r : t.route(req(p), 0);
    }
    return (ForwardAction) r.action();
  }

  private static ForwardAction action(String routeAction) {
    return action("{\"prefix\":\"/\"}", routeAction);
  }

  @Test
  void defaults() {
    ForwardAction a = action("{\"cluster\":\"c\"}");
    assertThat(a.selectCluster(req("/"), 0).clusterName()).isEqualTo("c");
    assertThat(a.timeoutMs()).isEqualTo(15000);
    assertThat(a.idleTimeoutMs()).isZero();
    assertThat(a.clusterNotFoundResponseCode()).isEqualTo(503);
    assertThat(a.autoHostRewrite()).isFalse();
    assertThat(a.retryPolicy()).isNull();
    assertThat(a.hashPolicies()).isEmpty();
    assertThat(a.maxStreamDurationMs()).isZero();
  }

  @Test
  void timeoutsAndCodes() {
    ForwardAction a = action("{\"cluster\":\"c\",\"timeout\":\"0s\",\"idle_timeout\":\"1.5s\","
        + "\"cluster_not_found_response_code\":\"NOT_FOUND\",\"auto_host_rewrite\":true,"
        + "\"max_stream_duration\":{\"max_stream_duration\":\"2s\"},"
        + "\"retry_policy\":{\"retry_on\":\"5xx,reset\",\"num_retries\":3,\"per_try_timeout\":\"0.25s\",\"retriable_status_codes\":[503]},"
        + "\"hash_policy\":[{\"header\":{\"header_name\":\"X-User\"},\"terminal\":true},{\"connection_properties\":{\"source_ip\":true}}]}");
    assertThat(a.timeoutMs()).isZero();
    assertThat(a.idleTimeoutMs()).isEqualTo(1500);
    assertThat(a.clusterNotFoundResponseCode()).isEqualTo(404);
    assertThat(a.autoHostRewrite()).isTrue();
    assertThat(a.maxStreamDurationMs()).isEqualTo(2000);
    assertThat(a.retryPolicy()).isEqualTo(
        new ForwardAction.RetryPolicy("5xx,reset", 3, 250, 0, List.of(503), 25, 250));
    assertThat(a.hashPolicies()).containsExactly(
        new ForwardAction.HashPolicy("header", "x-user", true),
        new ForwardAction.HashPolicy("connection_properties", "source_ip", false));
    assertThat(action("{\"cluster\":\"c\",\"cluster_not_found_response_code\":\"INTERNAL_SERVER_ERROR\"}")
        .clusterNotFoundResponseCode()).isEqualTo(500);
  }

  @Test
  void virtualHostRetryPolicyIsInherited() {
    RouteTable t = Fixtures.table("{\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],"
        + "\"retry_policy\":{\"retry_on\":\"connect-failure\"},"
        + "\"routes\":[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\"}}]}]}");
    ForwardAction a = (ForwardAction) t.route(req("/"), 0).action();
    assertThat(a.retryPolicy().retryOn()).isEqualTo("connect-failure");
    assertThat(a.retryPolicy().numRetries()).isEqualTo(1);
  }

  @Test
  void clusterHeader() {
    ForwardAction a = action("{\"cluster_header\":\"X-Cluster\"}");
    assertThat(a.selectCluster(req("/", "x-cluster", "blue", "x-cluster", "green"), 0).clusterName())
        .isEqualTo("blue");
    assertThat(a.selectCluster(req("/"), 0).clusterName()).isNull();
  }

  @Test
  void weightedClusterDistribution() {
    ForwardAction a = action("{\"weighted_clusters\":{\"clusters\":["
        + "{\"name\":\"a\",\"weight\":10,\"request_headers_to_add\":[{\"header\":{\"key\":\"x-w\",\"value\":\"a\"}}],\"host_rewrite_literal\":\"a.internal\"},"
        + "{\"name\":\"zero\",\"weight\":0},"
        + "{\"name\":\"b\",\"weight\":30},"
        + "{\"cluster_header\":\"x-c\",\"weight\":60}]}}");
    List<String> picks = new ArrayList<>();
    for (long r : new long[] {0, 9, 10, 39, 40, 99, 100, 109, -1}) {
      picks.add(a.selectCluster(req("/", "x-c", "hdr"), r).clusterName());
    }
    // -1 is 2^64-1 unsigned: % 100 = 15.
    assertThat(picks).containsExactly("a", "a", "b", "b", "hdr", "hdr", "a", "a", "b");
    ClusterSelection s = a.selectCluster(req("/"), 5);
    assertThat(s.hostRewriteLiteral()).isEqualTo("a.internal");
    Http2Headers h = req("/");
    s.requestMutations().apply(h, Fixtures.info());
    assertThat(h.get("x-w")).hasToString("a");
    assertThat(a.selectCluster(req("/"), 50).clusterName()).isNull();
    int[] counts = new int[3];
    for (long r = 0; r < 10_000; r++) {
      String c = a.selectCluster(req("/", "x-c", "hdr"), r * 7919).clusterName();
      counts[c.equals("a") ? 0 : c.equals("b") ? 1 : 2]++;
    }
    assertThat(counts).containsExactly(1000, 3000, 6000);
  }

  @Test
  void weightedClusterRandomValueFromHeader() {
    ForwardAction a = action("{\"weighted_clusters\":{\"header_name\":\"x-random\",\"clusters\":["
        + "{\"name\":\"a\",\"weight\":1},{\"name\":\"b\",\"weight\":1}]}}");
    assertThat(a.selectCluster(req("/", "x-random", "1"), 0).clusterName()).isEqualTo("b");
    assertThat(a.selectCluster(req("/", "x-random", "2"), 1).clusterName()).isEqualTo("a");
    // Unparseable or multi-valued headers fall back to the stream's random value.
    assertThat(a.selectCluster(req("/", "x-random", "x"), 1).clusterName()).isEqualTo("b");
    assertThat(a.selectCluster(req("/", "x-random", "2", "x-random", "2"), 1).clusterName()).isEqualTo("b");
  }

  private static Http2Headers rewrite(ForwardAction a, String path, String... headers) {
    Http2Headers h = Fixtures.at("example.com", path, headers);
    a.rewriteRequest(h);
    return h;
  }

  @Test
  void prefixRewrite() {
    ForwardAction a = action("{\"prefix\":\"/x/\"}", "{\"cluster\":\"c\",\"prefix_rewrite\":\"/y/\"}");
    Http2Headers h = rewrite(a, "/x/z?q=/x/");
    assertThat(h.path()).hasToString("/y/z?q=/x/");
    assertThat(h.get("x-envoy-original-path")).hasToString("/x/z?q=/x/");
    Http2Headers noOriginal = Fixtures.at("e", "/x/a");
    a.rewriteRequest(noOriginal, false);
    assertThat(noOriginal.path()).hasToString("/y/a");
    assertThat(noOriginal.contains("x-envoy-original-path")).isFalse();
  }

  @Test
  void prefixRewriteCaseInsensitiveAndPathMatch() {
    ForwardAction ci = action("{\"prefix\":\"/X\",\"case_sensitive\":false}", "{\"cluster\":\"c\",\"prefix_rewrite\":\"/\"}");
    assertThat(rewrite(ci, "/xabc").path()).hasToString("/abc");
    ForwardAction path = action("{\"path\":\"/x\"}", "{\"cluster\":\"c\",\"prefix_rewrite\":\"/new\"}");
    assertThat(rewrite(path, "/x?a=b").path()).hasToString("/new?a=b");
    ForwardAction regex = action("{\"safe_regex\":{\"regex\":\"/x.*\"}}", "{\"cluster\":\"c\",\"prefix_rewrite\":\"/r\"}");
    assertThat(rewrite(regex, "/xyz?a").path()).hasToString("/r?a");
  }

  @Test
  void regexRewrite() {
    ForwardAction a = action("{\"cluster\":\"c\",\"regex_rewrite\":{\"pattern\":{\"regex\":\"^/service/([^/]+)(/.*)$\"},\"substitution\":\"\\\\2/instance/\\\\1\"}}");
    assertThat(rewrite(a, "/service/foo/v1/api?x=/service/a/b").path()).hasToString("/v1/api/instance/foo?x=/service/a/b");
    ForwardAction all = action("{\"cluster\":\"c\",\"regex_rewrite\":{\"pattern\":{\"regex\":\"o\"},\"substitution\":\"$0\"}}");
    Http2Headers h = rewrite(all, "/foo");
    assertThat(h.path()).hasToString("/f$0$0");
    // Unchanged path still records the original, as Envoy does whenever a rewrite is configured.
    assertThat(h.get("x-envoy-original-path")).hasToString("/foo");
  }

  @Test
  void hostRewrites() {
    assertThat(rewrite(action("{\"cluster\":\"c\",\"host_rewrite_literal\":\"new.host\"}"), "/").authority())
        .hasToString("new.host");
    ForwardAction byHeader = action("{\"cluster\":\"c\",\"host_rewrite_header\":\"X-Host\"}");
    assertThat(rewrite(byHeader, "/", "x-host", "h.example").authority()).hasToString("h.example");
    assertThat(rewrite(byHeader, "/").authority()).hasToString("example.com");
    ForwardAction byPath = action("{\"cluster\":\"c\",\"host_rewrite_path_regex\":{\"pattern\":{\"regex\":\"^/prefix/([^/]+)/.*$\"},\"substitution\":\"\\\\1.example.org\"}}");
    assertThat(rewrite(byPath, "/prefix/svc/rest?x=1").authority()).hasToString("svc.example.org");
    ForwardAction xfh = action("{\"cluster\":\"c\",\"host_rewrite_literal\":\"up\",\"append_x_forwarded_host\":true}");
    Http2Headers h = rewrite(xfh, "/");
    assertThat(h.get("x-forwarded-host")).hasToString("example.com");
    h = rewrite(xfh, "/", "x-forwarded-host", "a.com");
    assertThat(h.get("x-forwarded-host")).hasToString("a.com,example.com");
    h = rewrite(xfh, "/", "x-forwarded-host", "example.com");
    assertThat(h.get("x-forwarded-host")).hasToString("example.com");
  }

  @Test
  void finalizeRequestHeadersOrder() {
    RouteTable t = routes("[{\"match\":{\"prefix\":\"/a\"},\"request_headers_to_add\":[{\"header\":{\"key\":\"x-path\",\"value\":\"%REQ(:PATH)%\"}}],"
        + "\"route\":{\"prefix_rewrite\":\"/b\",\"weighted_clusters\":{\"clusters\":[{\"name\":\"w\",\"weight\":1,"
        + "\"request_headers_to_add\":[{\"header\":{\"key\":\"x-host\",\"value\":\"%REQ(:AUTHORITY)%\"}}],\"host_rewrite_literal\":\"w.host\"}]}}}]");
    Route r = t.route(req("/a1"), 0);
    Http2Headers h = req("/a1");
    ForwardAction a = (ForwardAction) r.action();
    r.finalizeRequestHeaders(h, Fixtures.info(), a.selectCluster(h, 0), true);
    assertThat(h.get("x-host")).hasToString("example.com");
    assertThat(h.authority()).hasToString("w.host");
    assertThat(h.get("x-path")).hasToString("/a1");
    assertThat(h.path()).hasToString("/b1");
  }
}

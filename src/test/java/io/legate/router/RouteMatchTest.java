package io.legate.router;

import static io.legate.router.Fixtures.name;
import static io.legate.router.Fixtures.req;
import static io.legate.router.Fixtures.routes;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

class RouteMatchTest {
  private static String r(String name, String match) {
    return "{\"name\":\"" + name + "\",\"match\":" + match + ",\"direct_response\":{\"status\":200}}";
  }

  @Test
  void pathKindsAndFirstMatchInConfigOrder() {
    RouteTable t = routes("[" + r("exact", "{\"path\":\"/a/b\"}") + ","
        + r("regex", "{\"safe_regex\":{\"regex\":\"/r/[0-9]+\"}}") + ","
        + r("sep", "{\"path_separated_prefix\":\"/api\"}") + ","
        + r("pfx-a", "{\"prefix\":\"/a\"}") + ","
        + r("ci", "{\"prefix\":\"/CI/\",\"case_sensitive\":false}") + ","
        + r("ci-path", "{\"path\":\"/Exact\",\"case_sensitive\":false}") + ","
        + r("root", "{\"prefix\":\"/\"}") + "]");
    assertThat(name(t.route(req("/a/b"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/a/b?x=1"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/a/b#frag"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/a/bc"), 0))).isEqualTo("pfx-a");
    assertThat(name(t.route(req("/A/b"), 0))).isEqualTo("root");
    assertThat(name(t.route(req("/r/123"), 0))).isEqualTo("regex");
    assertThat(name(t.route(req("/r/123?q=/r/1"), 0))).isEqualTo("regex");
    assertThat(name(t.route(req("/r/123x"), 0))).isEqualTo("root");
    assertThat(name(t.route(req("/api"), 0))).isEqualTo("sep");
    assertThat(name(t.route(req("/api/v1"), 0))).isEqualTo("sep");
    assertThat(name(t.route(req("/api?x"), 0))).isEqualTo("sep");
    assertThat(name(t.route(req("/apiv1"), 0))).isEqualTo("pfx-a");
    assertThat(name(t.route(req("/ci/x"), 0))).isEqualTo("ci");
    assertThat(name(t.route(req("/Ci/X"), 0))).isEqualTo("ci");
    assertThat(name(t.route(req("/EXACT"), 0))).isEqualTo("ci-path");
    assertThat(name(t.route(req("/exact/"), 0))).isEqualTo("root");
  }

  @Test
  void laterMoreSpecificRouteDoesNotWinOverEarlierGeneralOne() {
    RouteTable t = routes("[" + r("general", "{\"prefix\":\"/\"}") + ","
        + r("specific", "{\"path\":\"/x\"}") + "]");
    assertThat(name(t.route(req("/x"), 0))).isEqualTo("general");
  }

  @Test
  void noPathNoRoute() {
    RouteTable t = routes("[" + r("root", "{\"prefix\":\"/\"}") + "]");
    Http2Headers h = req("/");
    h.remove(":path");
    assertThat(t.route(h, 0)).isNull();
  }

  @Test
  void headerMatchers() {
    RouteTable t = routes("["
        + r("exact", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"X-A\",\"string_match\":{\"exact\":\"v\"}}]}") + ","
        + r("exact-ic", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-a\",\"string_match\":{\"exact\":\"V2\",\"ignore_case\":true}}]}") + ","
        + r("prefix", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-p\",\"string_match\":{\"prefix\":\"ab\"}}]}") + ","
        + r("suffix", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-s\",\"string_match\":{\"suffix\":\"yz\"}}]}") + ","
        + r("contains", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-c\",\"string_match\":{\"contains\":\"mid\"}}]}") + ","
        + r("regex", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-r\",\"string_match\":{\"safe_regex\":{\"regex\":\"[a-c]+\"}}}]}") + ","
        + r("range", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-n\",\"range_match\":{\"start\":10,\"end\":20}}]}") + ","
        + r("present", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-present\",\"present_match\":true}]}") + ","
        + r("inverted", "{\"prefix\":\"/\",\"headers\":[{\"name\":\"x-i\",\"string_match\":{\"exact\":\"no\"},\"invert_match\":true},{\"name\":\"x-i\",\"present_match\":true}]}") + ","
        + r("missing-empty", "{\"prefix\":\"/m\",\"headers\":[{\"name\":\"x-e\",\"string_match\":{\"exact\":\"\"},\"treat_missing_header_as_empty\":true}]}") + ","
        + r("absent", "{\"prefix\":\"/absent\",\"headers\":[{\"name\":\"x-z\",\"present_match\":false}]}") + ","
        + r("deprecated-exact", "{\"prefix\":\"/d\",\"headers\":[{\"name\":\"x-d\",\"exact_match\":\"\"}]}") + ","
        + r("fallback", "{\"prefix\":\"/\"}") + "]");
    assertThat(name(t.route(req("/", "x-a", "v"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/", "x-a", "V"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/", "x-a", "v2"), 0))).isEqualTo("exact-ic");
    // Several values are joined with ',' before matching.
    assertThat(name(t.route(req("/", "x-a", "v", "x-a", "w"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/", "x-c", "a", "x-c", "mid"), 0))).isEqualTo("contains");
    assertThat(name(t.route(req("/", "x-p", "abc"), 0))).isEqualTo("prefix");
    assertThat(name(t.route(req("/", "x-s", "xyz"), 0))).isEqualTo("suffix");
    assertThat(name(t.route(req("/", "x-c", "amidb"), 0))).isEqualTo("contains");
    assertThat(name(t.route(req("/", "x-r", "abc"), 0))).isEqualTo("regex");
    assertThat(name(t.route(req("/", "x-r", "abcd"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/", "x-n", "10"), 0))).isEqualTo("range");
    assertThat(name(t.route(req("/", "x-n", "19"), 0))).isEqualTo("range");
    assertThat(name(t.route(req("/", "x-n", "20"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/", "x-n", "1x"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/", "x-present", ""), 0))).isEqualTo("present");
    assertThat(name(t.route(req("/", "x-i", "yes"), 0))).isEqualTo("inverted");
    assertThat(name(t.route(req("/", "x-i", "no"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/m"), 0))).isEqualTo("missing-empty");
    assertThat(name(t.route(req("/m", "x-e", "x"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/absent"), 0))).isEqualTo("absent");
    assertThat(name(t.route(req("/absent", "x-z", "1"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/d", "x-d", "anything"), 0))).isEqualTo("deprecated-exact");
    assertThat(name(t.route(req("/d"), 0))).isEqualTo("fallback");
  }

  @Test
  void invertedMatchOnMissingHeader() {
    RouteTable t = routes("["
        + r("inv-exact", "{\"prefix\":\"/a\",\"headers\":[{\"name\":\"x\",\"string_match\":{\"exact\":\"v\"},\"invert_match\":true}]}") + ","
        + r("inv-present", "{\"prefix\":\"/b\",\"headers\":[{\"name\":\"x\",\"present_match\":true,\"invert_match\":true}]}") + ","
        + r("inv-missing-empty", "{\"prefix\":\"/c\",\"headers\":[{\"name\":\"x\",\"string_match\":{\"exact\":\"v\"},\"invert_match\":true,\"treat_missing_header_as_empty\":true}]}") + "]");
    // A missing header never matches a value matcher, inverted or not.
    assertThat(t.route(req("/a"), 0)).isNull();
    assertThat(name(t.route(req("/a", "x", "w"), 0))).isEqualTo("inv-exact");
    assertThat(name(t.route(req("/b"), 0))).isEqualTo("inv-present");
    assertThat(t.route(req("/b", "x", "1"), 0)).isNull();
    assertThat(name(t.route(req("/c"), 0))).isEqualTo("inv-missing-empty");
  }

  @Test
  void queryParameters() {
    RouteTable t = routes("["
        + r("exact", "{\"prefix\":\"/\",\"query_parameters\":[{\"name\":\"a\",\"string_match\":{\"exact\":\"1\"}}]}") + ","
        + r("present", "{\"prefix\":\"/\",\"query_parameters\":[{\"name\":\"p\",\"present_match\":true}]}") + ","
        + r("not-present", "{\"prefix\":\"/np\",\"query_parameters\":[{\"name\":\"p\",\"present_match\":false}]}") + ","
        + r("fallback", "{\"prefix\":\"/\"}") + "]");
    assertThat(name(t.route(req("/?a=1"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/?b=2&a=1"), 0))).isEqualTo("exact");
    // Only the first value counts.
    assertThat(name(t.route(req("/?a=2&a=1"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/?a=1#frag"), 0))).isEqualTo("exact");
    assertThat(name(t.route(req("/?p"), 0))).isEqualTo("present");
    assertThat(name(t.route(req("/?p="), 0))).isEqualTo("present");
    assertThat(name(t.route(req("/np"), 0))).isEqualTo("not-present");
    assertThat(name(t.route(req("/np?p=1"), 0))).isEqualTo("present");
    assertThat(name(t.route(req("/?q=1"), 0))).isEqualTo("fallback");
  }

  @Test
  void grpc() {
    RouteTable t = routes("[" + r("grpc", "{\"prefix\":\"/\",\"grpc\":{}}") + ","
        + r("fallback", "{\"prefix\":\"/\"}") + "]");
    assertThat(name(t.route(req("/", "content-type", "application/grpc"), 0))).isEqualTo("grpc");
    assertThat(name(t.route(req("/", "content-type", "application/grpc+proto"), 0))).isEqualTo("grpc");
    assertThat(name(t.route(req("/", "content-type", "application/grpc-web"), 0))).isEqualTo("fallback");
    assertThat(name(t.route(req("/"), 0))).isEqualTo("fallback");
  }

  @Test
  void runtimeFraction() {
    RouteTable t = routes("[" + r("quarter", "{\"prefix\":\"/\",\"runtime_fraction\":{\"default_value\":{\"numerator\":25,\"denominator\":\"HUNDRED\"},\"runtime_key\":\"k\"}}") + ","
        + r("rest", "{\"prefix\":\"/\"}") + "]");
    assertThat(name(t.route(req("/"), 24))).isEqualTo("quarter");
    assertThat(name(t.route(req("/"), 25))).isEqualTo("rest");
    assertThat(name(t.route(req("/"), 124))).isEqualTo("quarter");
    assertThat(name(t.route(req("/"), -1))).isEqualTo("quarter"); // 2^64-1 % 100 = 15
    RouteTable million = routes("[" + r("one", "{\"prefix\":\"/\",\"runtime_fraction\":{\"default_value\":{\"numerator\":1,\"denominator\":\"MILLION\"}}}") + "]");
    assertThat(name(million.route(req("/"), 1_000_000))).isEqualTo("one");
    assertThat(million.route(req("/"), 1)).isNull();
  }

  @Test
  void requireTls() {
    RouteTable t = Fixtures.table("{\"virtual_hosts\":[{\"name\":\"all\",\"domains\":[\"all.com\"],\"require_tls\":\"ALL\",\"routes\":["
        + r("a", "{\"prefix\":\"/\"}") + "]},{\"name\":\"ext\",\"domains\":[\"ext.com\"],\"require_tls\":\"EXTERNAL_ONLY\",\"routes\":["
        + r("e", "{\"prefix\":\"/\"}") + "]}]}");
    Route redirect = t.route(Fixtures.at("all.com", "/p?q", "x-forwarded-proto", "http"), 0);
    assertThat(redirect.action()).isInstanceOf(RedirectAction.class);
    RedirectAction ra = (RedirectAction) redirect.action();
    assertThat(ra.status()).isEqualTo(301);
    assertThat(ra.location(Fixtures.at("all.com:80", "/p?q", "x-forwarded-proto", "http"), false))
        .isEqualTo("https://all.com:80/p?q");
    assertThat(name(t.route(Fixtures.at("all.com", "/", "x-forwarded-proto", "https"), 0))).isEqualTo("a");
    assertThat(t.route(Fixtures.at("ext.com", "/", "x-forwarded-proto", "http"), 0).action())
        .isInstanceOf(RedirectAction.class);
    assertThat(name(t.route(Fixtures.at("ext.com", "/", "x-forwarded-proto", "http", "x-envoy-internal", "true"), 0)))
        .isEqualTo("e");
  }

  @Test
  void ignorePathParametersInPathMatching() {
    RouteTable t = Fixtures.table("{\"ignore_path_parameters_in_path_matching\":true,\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],\"routes\":["
        + r("p", "{\"path\":\"/a/b\"}") + "]}]}");
    assertThat(name(t.route(req("/a/b;jsessionid=1?x"), 0))).isEqualTo("p");
  }

  @Test
  void emptyPrefixMatchesEverythingAndInternalOnlyHeadersAreExposed() {
    RouteTable t = Fixtures.table("{\"name\":\"n\",\"internal_only_headers\":[\"X-Internal\"],\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],\"routes\":["
        + r("all", "{\"prefix\":\"\"}") + "]}]}");
    assertThat(name(t.route(req("/anything"), 0))).isEqualTo("all");
    assertThat(t.name()).isEqualTo("n");
    assertThat(t.internalOnlyHeaders()).containsExactly("x-internal");
  }
}

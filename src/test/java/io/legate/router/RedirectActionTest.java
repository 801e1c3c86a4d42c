package io.legate.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

class RedirectActionTest {
  private static RedirectAction redirect(String match, String redirect) {
    RouteTable t = Fixtures.routes("[{\"match\":" + match + ",\"redirect\":" + redirect + "}]");
    for (String p : new String[] {"/", "/old/", "/x"}) {
      Route r = t.route(Fixtures.req(p), 0);
      if (r != null) {
        return (RedirectAction) r.action();
      }
    }
    throw new AssertionError("no route");
  }

  private static RedirectAction redirect(String redirect) {
    return redirect("{\"prefix\":\"/\"}", redirect);
  }

  private static String loc(RedirectAction a, String authority, String path, boolean tls, String... headers) {
    Http2Headers h = Fixtures.at(authority, path, headers);
    return a.location(h, tls);
  }

  @Test
  void statusCodes() {
    assertThat(redirect("{\"host_redirect\":\"a\"}").status()).isEqualTo(301);
    assertThat(redirect("{\"host_redirect\":\"a\",\"response_code\":\"FOUND\"}").status()).isEqualTo(302);
    assertThat(redirect("{\"host_redirect\":\"a\",\"response_code\":\"SEE_OTHER\"}").status()).isEqualTo(303);
    assertThat(redirect("{\"host_redirect\":\"a\",\"response_code\":\"TEMPORARY_REDIRECT\"}").status()).isEqualTo(307);
    assertThat(redirect("{\"host_redirect\":\"a\",\"response_code\":\"PERMANENT_REDIRECT\"}").status()).isEqualTo(308);
  }

  @Test
  void httpsRedirectDropsDefaultPortOfOldScheme() {
    RedirectAction a = redirect("{\"https_redirect\":true}");
    assertThat(loc(a, "foo.com", "/p?q=1", false)).isEqualTo("https://foo.com/p?q=1");
    assertThat(loc(a, "foo.com:80", "/p", false)).isEqualTo("https://foo.com/p");
    assertThat(loc(a, "foo.com:8080", "/p", false)).isEqualTo("https://foo.com:8080/p");
    // Already https: the port is kept.
    assertThat(loc(a, "foo.com:443", "/p", true)).isEqualTo("https://foo.com:443/p");
    // x-forwarded-proto wins over the connection.
    assertThat(loc(a, "foo.com:80", "/p", true, "x-forwarded-proto", "http")).isEqualTo("https://foo.com/p");
    assertThat(loc(a, "[::1]:80", "/p", false)).isEqualTo("https://[::1]/p");
  }

  @Test
  void schemeRedirect() {
    RedirectAction a = redirect("{\"scheme_redirect\":\"http\"}");
    assertThat(loc(a, "foo.com:443", "/p", true)).isEqualTo("http://foo.com/p");
    assertThat(loc(a, "foo.com:8443", "/p", true)).isEqualTo("http://foo.com:8443/p");
  }

  @Test
  void hostAndPortRedirect() {
    assertThat(loc(redirect("{\"host_redirect\":\"new.com\"}"), "foo.com:8080", "/p", false))
        .isEqualTo("http://new.com/p");
    assertThat(loc(redirect("{\"port_redirect\":8443}"), "foo.com:8080", "/p", false))
        .isEqualTo("http://foo.com:8443/p");
    assertThat(loc(redirect("{\"port_redirect\":8443}"), "foo.com", "/p", true))
        .isEqualTo("https://foo.com:8443/p");
    assertThat(loc(redirect("{\"host_redirect\":\"new.com\",\"port_redirect\":81,\"https_redirect\":true}"),
        "foo.com:8080", "/p", false)).isEqualTo("https://new.com:81/p");
  }

  @Test
  void pathRedirect() {
    RedirectAction a = redirect("{\"path_redirect\":\"/new\"}");
    assertThat(loc(a, "h", "/old?x=1", false)).isEqualTo("http://h/new?x=1");
    RedirectAction strip = redirect("{\"path_redirect\":\"/new\",\"strip_query\":true}");
    assertThat(loc(strip, "h", "/old?x=1", false)).isEqualTo("http://h/new");
    RedirectAction withQuery = redirect("{\"path_redirect\":\"/new?a=b\",\"strip_query\":true}");
    assertThat(loc(withQuery, "h", "/old?x=1", false)).isEqualTo("http://h/new?a=b");
    assertThat(loc(redirect("{\"path_redirect\":\"noslash\"}"), "h", "/old", false)).isEqualTo("http://h/noslash");
  }

  @Test
  void prefixAndRegexRewrite() {
    RedirectAction a = redirect("{\"prefix\":\"/old/\"}", "{\"prefix_rewrite\":\"/new/\"}");
    assertThat(loc(a, "h", "/old/a?q", false)).isEqualTo("http://h/new/a?q");
    RedirectAction stripped = redirect("{\"prefix\":\"/old/\"}", "{\"prefix_rewrite\":\"/new/\",\"strip_query\":true}");
    assertThat(loc(stripped, "h", "/old/a?q", false)).isEqualTo("http://h/new/a");
    RedirectAction regex = redirect("{\"regex_rewrite\":{\"pattern\":{\"regex\":\"^/x/(.*)$\"},\"substitution\":\"/y/\\\\1\"}}");
    assertThat(loc(regex, "h", "/x/abc?z=1", false)).isEqualTo("http://h/y/abc?z=1");
    RedirectAction toEmpty = redirect("{\"prefix\":\"/old/\"}", "{\"prefix_rewrite\":\"\",\"host_redirect\":\"h2\"}");
    assertThat(loc(toEmpty, "h", "/old/a", false)).isEqualTo("http://h2/old/a");
  }

  @Test
  void noChangeKeepsRequestUrl() {
    RedirectAction a = redirect("{\"response_code\":\"FOUND\"}");
    assertThat(loc(a, "h:8080", "/p?q", true)).isEqualTo("https://h:8080/p?q");
  }
}

package io.legate.router;

import static io.legate.router.Fixtures.at;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import org.junit.jupiter.api.Test;

class VirtualHostSelectionTest {
  private static String vh(String name, String... domains) {
    StringBuilder sb = new StringBuilder("{\"name\":\"" + name + "\",\"domains\":[");
    for (int i = 0; i < domains.length; i++) {
      sb.append(i > 0 ? "," : "").append('"').append(domains[i]).append('"');
    }
    return sb.append("],\"routes\":[{\"name\":\"" + name + "-r\",\"match\":{\"prefix\":\"/\"},"
        + "\"direct_response\":{\"status\":200}}]}").toString();
  }

  private static final RouteTable TABLE = Fixtures.table("{\"name\":\"rc\",\"virtual_hosts\":["
      + vh("exact", "www.foo.com", "www.foo.com:8080") + ","
      + vh("suffix-long", "*-bar.foo.com") + ","
      + vh("suffix", "*.foo.com") + ","
      + vh("prefix-long", "foo.bar.*") + ","
      + vh("prefix", "foo.*") + ","
      + vh("default", "*") + "]}");

  private static String host(String authority) {
    return TABLE.route(at(authority, "/"), 0).virtualHostName();
  }

  @Test
  void precedenceTable() {
    assertThat(host("www.foo.com")).isEqualTo("exact");
    assertThat(host("WWW.Foo.COM")).isEqualTo("exact");
    assertThat(host("www.foo.com:8080")).isEqualTo("exact");
    assertThat(host("baz-bar.foo.com")).isEqualTo("suffix-long");
    assertThat(host("x.baz-bar.foo.com")).isEqualTo("suffix-long");
    assertThat(host("api.foo.com")).isEqualTo("suffix");
    // The wildcard must match at least one character.
    assertThat(host("-bar.foo.com")).isEqualTo("suffix");
    assertThat(host(".foo.com")).isEqualTo("default");
    assertThat(host("foo.bar.baz")).isEqualTo("prefix-long");
    assertThat(host("foo.x")).isEqualTo("prefix");
    assertThat(host("foo.")).isEqualTo("default");
    // A suffix wildcard beats a prefix wildcard.
    assertThat(host("foo.bar.foo.com")).isEqualTo("suffix");
    assertThat(host("other.org")).isEqualTo("default");
  }

  @Test
  void hostWithPortIsMatchedAsGivenWithoutRetry() {
    // Envoy matches "www.foo.com:9090" literally: not exact, so wildcards, then default.
    assertThat(host("www.foo.com:9090")).isEqualTo("default");
    assertThat(host("api.foo.com:443")).isEqualTo("default");
    assertThat(host("foo.x:80")).isEqualTo("prefix");
  }

  @Test
  void ignorePortInHostMatching() {
    RouteTable t = Fixtures.table("{\"name\":\"rc\",\"ignore_port_in_host_matching\":true,"
        + "\"virtual_hosts\":[" + vh("a", "a.com") + "," + vh("v6", "[::1]") + "]}");
    assertThat(t.route(at("a.com:8443", "/"), 0).virtualHostName()).isEqualTo("a");
    assertThat(t.route(at("[::1]:80", "/"), 0).virtualHostName()).isEqualTo("v6");
    assertThat(t.route(at("b.com", "/"), 0)).isNull();
  }

  @Test
  void noDefaultHostMeansNoRoute() {
    RouteTable t = Fixtures.table("{\"virtual_hosts\":[" + vh("a", "a.com") + "]}");
    assertThat(t.route(at("b.com", "/"), 0)).isNull();
  }

  @Test
  void onlyDefaultHostIgnoresAuthority() {
    RouteTable t = Fixtures.table("{\"virtual_hosts\":[" + vh("d", "*") + "]}");
    assertThat(t.route(at("anything:1", "/"), 0).virtualHostName()).isEqualTo("d");
  }

  @Test
  void duplicateDomains() {
    assertThatThrownBy(() -> Fixtures.table("{\"name\":\"rc\",\"virtual_hosts\":["
            + vh("a", "a.com") + "," + vh("b", "x.com", "A.com") + "]}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[1].domains[1]: Only unique values for domains are "
            + "permitted. Duplicate entry of domain a.com in route rc");
    assertThatThrownBy(() -> Fixtures.table("{\"name\":\"rc\",\"virtual_hosts\":["
            + vh("a", "*.a.com", "*.A.com") + "]}"))
        .hasMessage("route_config.virtual_hosts[0].domains[1]: Only unique values for domains are "
            + "permitted. Duplicate entry of domain *.a.com in route rc");
    assertThatThrownBy(() -> Fixtures.table("{\"name\":\"rc\",\"virtual_hosts\":["
            + vh("a", "*") + "," + vh("b", "*") + "]}"))
        .hasMessage("route_config.virtual_hosts[1].domains[0]: Only a single wildcard domain is "
            + "permitted in route rc");
    assertThatThrownBy(() -> Fixtures.table("{\"virtual_hosts\":[{\"name\":\"x\"}]}"))
        .hasMessage("route_config.virtual_hosts[0].domains: must contain at least one domain");
  }
}

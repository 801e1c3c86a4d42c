package io.legate.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

/** typed_per_filter_config on routes, virtual hosts and the route configuration. */
class PerFilterConfigTest {
  static RouteTable table(String yaml) {
    RouteConfiguration rc = ConfigLoader.parse(yaml, RouteConfiguration.newBuilder(), "t").build();
    return RouteTable.build(rc, "route_config", null, null);
  }

  static Route route(RouteTable t, String path) {
    Http2Headers h = new DefaultHttp2Headers().method("GET").path(path).authority("a").scheme("http");
    return t.route(h, 0);
  }

  static final String FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
  static final String FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig";

  @Test
  void mostSpecificLevelWinsForConfigAndDisabledSeparately() {
    RouteTable t = table("""
        typed_per_filter_config:
          a: { "@type": %1$s, abort: { http_status: 501 } }
          b: { "@type": %2$s, disabled: true }
        virtual_hosts:
        - name: vh
          domains: ["*"]
          typed_per_filter_config:
            a: { "@type": %1$s, abort: { http_status: 502 } }
          routes:
          - match: { prefix: /r }
            route: { cluster: c }
            typed_per_filter_config:
              b: { "@type": %2$s }
          - match: { prefix: / }
            route: { cluster: c }
        """.formatted(FAULT, FILTER_CONFIG));
    assertThat(t.hasFilterDisabling()).isTrue();
    Route r = route(t, "/r");
    Route other = route(t, "/x");
    assertThat(r.perFilterConfig("a")).isSameAs(other.perFilterConfig("a")).isNotNull();
    assertThat(r.perFilterConfig("a").toString()).contains("httpStatus=502");
    assertThat(r.perFilterConfig("b")).isNull();
    assertThat(r.perFilterConfig("nope")).isNull();
    assertThat(r.filterDisabled("b")).isFalse();
    assertThat(other.filterDisabled("b")).isTrue();
    assertThat(other.filterDisabled("a")).isNull();
  }

  @Test
  void noPerFilterConfigs() {
    RouteTable t = table("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: / }
            route: { cluster: c }
        """);
    assertThat(t.hasFilterDisabling()).isFalse();
    assertThat(route(t, "/").perFilterConfig("a")).isNull();
    assertThat(route(t, "/").filterDisabled("a")).isNull();
  }

  @Test
  void unsupportedTypesAreRefusedUnlessOptional() {
    String buffer = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer";
    assertThatThrownBy(() -> table("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: / }
            route: { cluster: c }
            typed_per_filter_config:
              buf: { "@type": %s, max_request_bytes: 10 }
        """.formatted(buffer)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].routes[0].typed_per_filter_config[\"buf\"]: unsupported "
            + "per-route config type '" + buffer + "' (filter 'buf')");
    RouteTable t = table("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: / }
            route: { cluster: c }
            typed_per_filter_config:
              buf: { "@type": %s, is_optional: true, config: { "@type": %s, max_request_bytes: 10 } }
        """.formatted(FILTER_CONFIG, buffer));
    assertThat(route(t, "/").perFilterConfig("buf")).isNull();
    assertThat(route(t, "/").filterDisabled("buf")).isFalse();
  }

  @Test
  void filtersWithoutPerRouteConfigRefuseIt() {
    assertThatThrownBy(() -> table("""
        typed_per_filter_config:
          hc: { "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck }
        virtual_hosts: []
        """))
        .hasMessage("route_config.typed_per_filter_config[\"hc\"]: per-route config is not supported for "
            + "filter envoy.filters.http.health_check");
  }

  @Test
  void weightedClusterPerFilterConfigIsNotSupported() {
    assertThatThrownBy(() -> table("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: / }
            route:
              weighted_clusters:
                clusters:
                - name: c
                  weight: 1
                  typed_per_filter_config:
                    a: { "@type": %s }
        """.formatted(FAULT)))
        .hasMessage("route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].typed_per_filter_config: not supported");
  }
}

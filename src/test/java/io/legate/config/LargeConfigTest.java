package io.legate.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LargeConfigTest {
  static String routes(int count) {
    StringBuilder sb = new StringBuilder(ConfigLoaderTest.base().substring(0, ConfigLoaderTest.base().indexOf("              routes:")));
    sb.append("              routes:\n");
    for (int i = 0; i < count; i++) {
      sb.append("              - match: { prefix: \"/api/v1/service").append(i).append("/\" }\n")
          .append("                route: { cluster: service, timeout: 5s, prefix_rewrite: \"/\" }\n");
      if (i % 10 == 0) {
        sb.append("                request_headers_to_add:\n")
            .append("                - header: { key: x-route, value: \"r").append(i).append("\" }\n");
      }
    }
    String base = ConfigLoaderTest.base();
    sb.append(base.substring(base.indexOf("          http_filters:")));
    return sb.toString();
  }

  @Test
  void tenThousandRoutesLoad(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("envoy.yaml");
    Files.writeString(file, routes(10_000));
    ConfigLoader.loadBootstrap(ExamplesTest.examplesDir().resolve("examples__front-proxy__envoy.yaml"), null);

    long start = System.nanoTime();
    Bootstrap b = ConfigLoader.loadBootstrap(file, null);
    long millis = (System.nanoTime() - start) / 1_000_000;
    start = System.nanoTime();
    ConfigLoader.loadBootstrap(file, null);
    long again = (System.nanoTime() - start) / 1_000_000;
    System.out.println("loaded " + Files.size(file) + " bytes with 10000 routes in " + millis + " ms (first), "
        + again + " ms (second)");

    HttpConnectionManager hcm = ConfigLoader.unpack(
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig(),
        HttpConnectionManager.class, "typed_config");
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutesCount()).isEqualTo(10_000);
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutes(9_999).getMatch().getPrefix())
        .isEqualTo("/api/v1/service9999/");
  }
}

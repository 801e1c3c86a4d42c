package io.legate.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemXdsIntegrationTest {
  @TempDir Path dir;

  static final String BOOTSTRAP =
      """
      node: {id: n1, cluster: c1}
      dynamic_resources:
        cds_config:
          resource_api_version: V3
          path_config_source: {path: ${DIR}/cds.yaml, watched_directory: {path: ${DIR}}}
        lds_config:
          resource_api_version: V3
          path: ${DIR}/lds.yaml
      admin:
        address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      """;

  static String cds(int port, String cluster) {
    return """
        version_info: "v-%s"
        resources:
        - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
          name: %s
          type: STATIC
          load_assignment:
            cluster_name: %s
            endpoints:
            - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
        """.formatted(cluster, cluster, cluster, port);
  }

  static String lds(String cluster, String routesFile) {
    String routes =
        routesFile == null
            ? """
              route_config:
                name: local
                virtual_hosts:
                - name: all
                  domains: ["*"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: %s}
              """.formatted(cluster)
            : """
              rds:
                route_config_name: rc1
                config_source: {path_config_source: {path: %s}}
              """.formatted(routesFile);
    return """
        resources:
        - "@type": type.googleapis.com/envoy.config.listener.v3.Listener
          name: l1
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                http_filters:
                - name: envoy.filters.http.router
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
        """ + routes.indent(8);
  }

  static String rds(String cluster) {
    return """
        resources:
        - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
          name: rc1
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {prefix: "/"}
              route: {cluster: %s}
        """.formatted(cluster);
  }

  /** Writes a file next to {@code target} and renames it into place, as Envoy's docs ask. */
  void moveInto(String name, String content) throws Exception {
    Path tmp = dir.resolve(name + ".tmp");
    Files.writeString(tmp, content);
    Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  static void eventually(Supplier<Boolean> condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.get()) {
      assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  static HttpResponse<String> get(int port, String path) {
    try {
      return HttpClient.newHttpClient()
          .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static String upstreamOf(int port) {
    return get(port, "/x").headers().firstValue("x-upstream").orElse("none");
  }

  @Test
  void filesAreLoadedAndReloadedWhenMovedIntoPlace() throws Exception {
    try (TestUpstream a = new TestUpstream("a"); TestUpstream b = new TestUpstream("b")) {
      moveInto("cds.yaml", cds(a.port(), "ca"));
      moveInto("lds.yaml", lds("ca", null));
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("DIR", dir))) {
        Server s = legate.server();
        int port = s.listenerAddress("l1").getPort();
        assertThat(upstreamOf(port)).isEqualTo("a");
        assertThat(s.stats().counter("cluster_manager.cds.update_success").value()).isEqualTo(1);
        assertThat(s.stats().counter("listener_manager.lds.update_success").value()).isEqualTo(1);

        // a new cluster, then the listener pointing at it (in place: same port)
        moveInto("cds.yaml", cds(b.port(), "cb"));
        eventually(() -> s.stats().counter("cluster_manager.cds.update_success").value() == 2);
        assertThat(get(port, "/x").statusCode()).isEqualTo(503);
        moveInto("lds.yaml", lds("cb", null));
        eventually(() -> upstreamOf(s.listenerAddress("l1").getPort()).equals("b"));
        assertThat(s.listenerAddress("l1").getPort()).isEqualTo(port);
        assertThat(s.stats().counter("listener_manager.listener_modified").value()).isEqualTo(1);

        // a bad file is rejected whole; the old config keeps serving
        moveInto("cds.yaml", cds(a.port(), "ca").replace("type: STATIC", "type: STATIC\n  connect_timeout: -1s"));
        eventually(() -> s.stats().counter("cluster_manager.cds.update_rejected").value() == 1);
        assertThat(upstreamOf(port)).isEqualTo("b");
        moveInto("cds.yaml", "resources: [{\"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster, nam: x}]");
        eventually(() -> s.stats().counter("cluster_manager.cds.update_failure").value() == 1);
        assertThat(upstreamOf(port)).isEqualTo("b");
      }
    }
  }

  @Test
  void rdsFromAFileSwapsRoutes() throws Exception {
    try (TestUpstream a = new TestUpstream("a"); TestUpstream b = new TestUpstream("b")) {
      moveInto("cds.yaml", cds(a.port(), "ca") + cds(b.port(), "cb").replace("version_info: \"v-cb\"\nresources:\n", ""));
      moveInto("rds.yaml", rds("ca"));
      moveInto("lds.yaml", lds("ca", dir.resolve("rds.yaml").toString()));
      try (Legate legate = Legate.start(BOOTSTRAP, Map.of("DIR", dir))) {
        Server s = legate.server();
        int port = s.listenerAddress("l1").getPort();
        eventually(() -> upstreamOf(port).equals("a"));
        moveInto("rds.yaml", rds("cb"));
        eventually(() -> upstreamOf(port).equals("b"));
        assertThat(s.stats().counter("http.ingress.rds.rc1.update_success").value()).isEqualTo(2);
        moveInto("rds.yaml", rds("cb").replace("prefix: \"/\"", "safe_regex: {regex: \"a(\"}"));
        eventually(() -> s.stats().counter("http.ingress.rds.rc1.update_rejected").value() == 1);
        assertThat(upstreamOf(port)).isEqualTo("b");
      }
    }
  }

  @Test
  void aMissingFileIsAnErrorWhenServingButNotWhenValidating() {
    String yaml = BOOTSTRAP.replace("${DIR}", dir.toString());
    assertThatThrownBy(() -> Server.start(Options.ofYaml(yaml, 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "dynamic_resources.cds_config.path_config_source.path: paths must refer to an existing path in the system: '"
                + dir + "/cds.yaml' does not exist");
    Server.validate(new Options(null, yaml, "validate", 1, "warning", "", "", 1));
  }
}
